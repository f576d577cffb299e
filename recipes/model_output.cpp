// The recipe field model.output (recipes/schema.hpp): a string (a dict key) or an integer (a
// tuple or list index), for a TorchScript module whose forward returns more than one tensor.
#include "recipes/schema.hpp"

#include <limits>

namespace kakuren::recipes::detail {

Field model_output_field() {
    Field f;
    f.section = "model";
    f.name = "output";
    f.kind = Kind::key_or_index;
    f.description =
        "torchscript: the tensor to train on when forward returns a dict (its key, e.g. "
        "\"logits\") or a tuple or list (its index, e.g. 0); unset = forward returns the tensor.";
    f.range = at_least(0);
    f.int_min = 0;
    f.int_max = std::numeric_limits<std::int64_t>::max();
    f.get = [](const Recipe& r) -> Value {
        if (!r.model.output_key.empty()) {
            return Value{r.model.output_key};
        }
        return r.model.output_index >= 0 ? Value{r.model.output_index} : Value{};
    };
    f.set = [](Recipe& r, const Value& v) {
        r.model.output_key.clear();
        r.model.output_index = -1;
        if (const auto* key = std::get_if<std::string>(&v)) {
            r.model.output_key = *key;
        } else if (const auto* index = std::get_if<std::int64_t>(&v)) {
            r.model.output_index = *index;
        }
    };
    return f;
}

} // namespace kakuren::recipes::detail
