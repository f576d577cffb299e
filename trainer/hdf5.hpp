#pragma once
// The one owner of HDF5 identifiers in trainer/ (the hdf5 source, the stand-in writer, kakuren
// data convert): each identifier lives in an H5Handle with the function that closes it. Private
// to trainer/ (libhdf5); no torch.
#include <hdf5.h>

namespace kakuren::trainer {

/// An HDF5 identifier and the function that closes it (H5Fclose, H5Dclose, ...), called on
/// destruction. A negative id (the call that made it failed) is kept as is and never closed:
/// ok() tells. Moves, never copies.
class H5Handle {
  public:
    H5Handle(hid_t id, herr_t (*close)(hid_t)) : m_id(id), m_close(close) {}
    H5Handle(const H5Handle&) = delete;
    H5Handle& operator=(const H5Handle&) = delete;
    H5Handle(H5Handle&& other) noexcept : m_id(other.m_id), m_close(other.m_close) {
        other.m_id = H5I_INVALID_HID;
    }
    H5Handle& operator=(H5Handle&&) = delete;
    ~H5Handle() {
        if (m_id >= 0) {
            m_close(m_id);
        }
    }
    [[nodiscard]] hid_t get() const { return m_id; }
    [[nodiscard]] bool ok() const { return m_id >= 0; }

  private:
    hid_t m_id;
    herr_t (*m_close)(hid_t);
};

} // namespace kakuren::trainer
