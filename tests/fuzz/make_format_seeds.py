# Writes the checked-in seeds of the image_decode and hdf5_open fuzzers (Pillow, h5py).
# Run from tests/fuzz/seeds: /usr/bin/python3 ../make_format_seeds.py
import numpy as np, h5py, os
from PIL import Image
rng = np.random.default_rng(1)
d = 'image_decode/'
g = rng.integers(0, 256, (6, 5), dtype=np.uint8)
c = rng.integers(0, 256, (4, 7, 3), dtype=np.uint8)
Image.fromarray(g).save(d + 'grey.png')
Image.fromarray(c).save(d + 'rgb.png')
Image.fromarray(c).convert('P').save(d + 'palette.png')
Image.fromarray(c).convert('RGBA').save(d + 'rgba.png')
Image.fromarray((g.astype(np.uint16) * 257)).save(d + 'grey16.png')
Image.fromarray(g).save(d + 'grey.jpg', quality=90)
Image.fromarray(c).save(d + 'rgb.jpg', quality=90)
Image.fromarray(c).save(d + 'progressive.jpg', quality=75, progressive=True)
Image.fromarray(c).convert('CMYK').save(d + 'cmyk.jpg')
d = 'hdf5_open/'
x = rng.integers(0, 256, (5, 1, 2, 2)).astype(np.uint8)
y = np.arange(5, dtype=np.int64)
with h5py.File(d + 'plain.h5', 'w') as f:
    f['data'] = x; f['targets'] = y
with h5py.File(d + 'chunked.h5', 'w') as f:
    f.create_dataset('data', data=x.astype(np.float32), chunks=(2, 1, 2, 2), compression='gzip')
    f.create_dataset('targets', data=y.astype(np.int16), chunks=(2,), shuffle=True, compression='gzip')
with h5py.File(d + 'links.h5', 'w') as f:
    f['real/x'] = x.astype(np.float16); f['targets'] = y
    f['data'] = h5py.SoftLink('/real/x')
    f['other'] = h5py.ExternalLink('plain.h5', '/data')
with h5py.File(d + 'virtual.h5', 'w') as f:
    layout = h5py.VirtualLayout(shape=x.shape, dtype=x.dtype)
    layout[:] = h5py.VirtualSource('plain.h5', 'data', shape=x.shape)
    f.create_virtual_dataset('data', layout)
    f['targets'] = y
with h5py.File(d + 'deepcam.h5', 'w') as f:
    f['climate/data'] = rng.standard_normal((3, 4, 2)).astype(np.float32)
    f['climate/labels_0'] = np.zeros((3, 4), np.uint8)
