// pick_output (trainer/script_output.hpp): model.output against what forward returns.
#include "trainer/script_output.hpp"

#include <sstream>
#include <vector>

namespace kakuren::trainer {
namespace {

/// "\"logits\"" for a string, else the value as TorchScript prints it.
std::string key_text(const c10::IValue& key) {
    if (key.isString()) {
        return "\"" + key.toStringRef() + "\"";
    }
    std::ostringstream out;
    out << key;
    return out.str();
}

/// `"features", "logits"`: a dict's keys, in its order.
std::string keys_text(const c10::impl::GenericDict& dict) {
    std::string out;
    for (const auto& entry : dict) {
        out += (out.empty() ? "" : ", ") + key_text(entry.key());
    }
    return out;
}

/// A tuple's or list's elements.
std::vector<c10::IValue> elements(const c10::IValue& value) {
    std::vector<c10::IValue> out;
    if (value.isTuple()) {
        for (const c10::IValue& item : value.toTupleRef().elements()) {
            out.push_back(item);
        }
        return out;
    }
    const c10::List<c10::IValue> list = value.toList();
    for (std::size_t i = 0; i < list.size(); ++i) {
        out.push_back(list.get(i));
    }
    return out;
}

/// "a dict (keys \"logits\", \"features\")", "a tuple of 2", "a Tensor": what forward returns.
std::string returns_text(const c10::IValue& value) {
    if (value.isGenericDict()) {
        return "a dict (keys " + keys_text(value.toGenericDict()) + ")";
    }
    if (value.isTuple() || value.isList()) {
        return std::string(value.isTuple() ? "a tuple" : "a list") + " of " +
               std::to_string(elements(value).size());
    }
    return "a " + value.tagKind();
}

/// "indices 0 to 1" for a tuple or list of n elements.
std::string range_text(std::size_t n) {
    return n == 0 ? "it is empty" : "indices 0 to " + std::to_string(n - 1);
}

std::string choice_text(const OutputChoice& choice) {
    return "model.output = " +
           (choice.key.empty() ? std::to_string(choice.index) : "\"" + choice.key + "\"");
}

/// The entry itself, which must be a tensor.
torch::Tensor tensor_of(const c10::IValue& entry, const OutputChoice& choice,
                        const std::string& where) {
    if (!entry.isTensor()) {
        throw OutputChoiceError(where + choice_text(choice) + " picks " + returns_text(entry) +
                                ", not a tensor; set model.output to the entry that holds the "
                                "model's output tensor");
    }
    return entry.toTensor();
}

torch::Tensor pick_key(const c10::IValue& value, const OutputChoice& choice,
                       const std::string& where) {
    if (!value.isGenericDict()) {
        throw OutputChoiceError(
            where + choice_text(choice) + " names a dict key, but forward returns " +
            returns_text(value) +
            (value.isTuple() || value.isList()
                 ? "; set model.output to an index (" + range_text(elements(value).size()) + ")"
                 : "; remove model.output"));
    }
    const c10::impl::GenericDict dict = value.toGenericDict();
    for (const auto& entry : dict) {
        if (entry.key().isString() && entry.key().toStringRef() == choice.key) {
            return tensor_of(entry.value(), choice, where);
        }
    }
    throw OutputChoiceError(
        where + choice_text(choice) +
        " is not a key of the dict forward returns; its keys: " + keys_text(dict));
}

torch::Tensor pick_index(const c10::IValue& value, const OutputChoice& choice,
                         const std::string& where) {
    if (!value.isTuple() && !value.isList()) {
        throw OutputChoiceError(where + choice_text(choice) + " is an index, but forward returns " +
                                returns_text(value) +
                                (value.isGenericDict() ? "; set model.output to one of its keys"
                                                       : "; remove model.output"));
    }
    const std::vector<c10::IValue> items = elements(value);
    if (choice.index >= static_cast<std::int64_t>(items.size())) {
        throw OutputChoiceError(where + choice_text(choice) + " is out of range: forward returns " +
                                returns_text(value) + " (" + range_text(items.size()) + ")");
    }
    return tensor_of(items[static_cast<std::size_t>(choice.index)], choice, where);
}

} // namespace

torch::Tensor pick_output(const c10::IValue& value, const OutputChoice& choice,
                          const std::string& where) {
    if (!choice.key.empty()) {
        return pick_key(value, choice, where);
    }
    if (choice.index >= 0) {
        return pick_index(value, choice, where);
    }
    if (value.isTensor()) {
        return value.toTensor();
    }
    std::string fix = "; kakuren trains on a tensor: return one";
    if (value.isGenericDict()) {
        const auto first = value.toGenericDict().begin();
        fix = "; set model.output to the key of the tensor to train on" +
              (first == value.toGenericDict().end()
                   ? std::string()
                   : ", e.g. model.output = " + key_text(first->key()));
    } else if (value.isTuple() || value.isList()) {
        fix = "; set model.output to the index of the tensor to train on, e.g. model.output = 0";
    }
    throw OutputChoiceError(where + "forward returns " + returns_text(value) + ", not a tensor" +
                            fix);
}

} // namespace kakuren::trainer
