// The datasets of an HDF5 file, for messages that name a missing one and for kakuren data
// inspect (declared in trainer/hdf5.hpp).
#include <hdf5.h>

#include "trainer/hdf5.hpp"
#include "util/error.hpp"

namespace kakuren::trainer {
namespace {

/// H5Ovisit2's callback: collects the path of every dataset (objects reached by hard links;
/// soft and external links are not followed).
herr_t collect(hid_t /*object*/, const char* name, const H5O_info_t* info, void* out) {
    if (info->type == H5O_TYPE_DATASET) {
        static_cast<std::vector<std::string>*>(out)->emplace_back(name);
    }
    return 0;
}

} // namespace

std::vector<Hdf5Entry> list_hdf5_datasets(hid_t file) {
    std::vector<std::string> names;
    if (H5Ovisit2(file, H5_INDEX_NAME, H5_ITER_INC, collect, &names, H5O_INFO_BASIC) < 0) {
        H5Eclear2(H5E_DEFAULT);
    }
    std::vector<Hdf5Entry> out;
    for (const std::string& name : names) {
        Hdf5Entry e;
        e.name = "/" + name;
        const H5Handle d(H5Dopen2(file, name.c_str(), H5P_DEFAULT), H5Dclose);
        if (d.ok()) {
            try {
                const DatasetInfo info = describe_dataset(d.get(), e.name);
                e.type = util::npy_type_name(info.type);
                e.shape = info.shape;
            } catch (const Error&) {
                // An element type kakuren does not read: listed, with its shape.
                const H5Handle space(H5Dget_space(d.get()), H5Sclose);
                const int rank = space.ok() ? H5Sget_simple_extent_ndims(space.get()) : -1;
                std::vector<hsize_t> dims(rank > 0 ? static_cast<std::size_t>(rank) : 0);
                if (rank > 0) {
                    H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
                }
                e.shape.assign(dims.begin(), dims.end());
                e.type = "(a type kakuren does not read)";
            }
        }
        H5Eclear2(H5E_DEFAULT);
        out.push_back(std::move(e));
    }
    return out;
}

std::string hdf5_datasets_text(hid_t file) {
    constexpr std::size_t k_shown = 20;
    const std::vector<Hdf5Entry> entries = list_hdf5_datasets(file);
    if (entries.empty()) {
        return "the file holds no dataset";
    }
    std::string out = "the file holds ";
    for (std::size_t i = 0; i < entries.size() && i < k_shown; ++i) {
        const Hdf5Entry& e = entries[i];
        out += (i == 0 ? "" : ", ") + e.name + " " + e.type + " " + util::shape_text(e.shape);
    }
    if (entries.size() > k_shown) {
        out += " and " + std::to_string(entries.size() - k_shown) + " more";
    }
    return out;
}

} // namespace kakuren::trainer
