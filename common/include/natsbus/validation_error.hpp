#pragma once

#include <stdexcept>
#include <string>

namespace natsbus {

// Raised when user input (a flag, an annotation, a resource field) is refused.
// The message always starts with the field or setting it is about, so that it can
// be shown to the user as it is.
class ValidationError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

}  // namespace natsbus
