#pragma once
// model.output: which tensor of what a TorchScript module's forward returns is trained on (a
// dict's entry, a tuple's or list's element). Private to trainer/ (torch).
#include <cstdint>
#include <string>

#include <torch/script.h>

#include "util/error.hpp"

namespace kakuren::trainer {

/// What model.output names: a dict key, an index into a tuple or list, or neither (forward
/// returns the tensor itself).
struct OutputChoice {
    std::string key;         ///< model.output = "logits"; "" = none
    std::int64_t index = -1; ///< model.output = 0; -1 = none
    [[nodiscard]] bool set() const { return !key.empty() || index >= 0; }
};

/// model.output and what forward returns do not go together (the message names what forward
/// returns and what to set); the model check reports it against model.output.
class OutputChoiceError : public UsageError {
  public:
    using UsageError::UsageError;
};

/// The tensor `choice` picks from `value`, what forward returned: the value itself when it is a
/// tensor and nothing is chosen, else the dict entry of choice.key or the tuple / list element
/// of choice.index. Throws OutputChoiceError, its message starting with `where` ("model.path
/// FILE: "), when the choice is missing (a dict or tuple without model.output: it says to set
/// it, with the keys or the count), names no entry (a wrong key lists the keys there are; an
/// index out of range gives the range), is of the wrong kind, or picks something not a tensor.
torch::Tensor pick_output(const c10::IValue& value, const OutputChoice& choice,
                          const std::string& where);

} // namespace kakuren::trainer
