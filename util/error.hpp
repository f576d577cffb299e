#pragma once
// kakuren::Error and its kinds. Every failure that ends an operation is thrown as one of these;
// `main` maps them to exit codes (see cli/main.cpp and docs/cli.md "Exit codes").
#include <stdexcept>
#include <string>

namespace kakuren {

/// Base of every error kakuren reports to a user. what() is a complete, user-facing message.
class Error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// Bad user input (recipe, command-line value): exit code 2.
class UsageError : public Error {
  public:
    using Error::Error;
};

/// The operation could not be carried out at runtime (I/O, database, data files): exit code 1.
class RuntimeFailure : public Error {
  public:
    using Error::Error;
};

} // namespace kakuren
