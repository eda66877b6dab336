// base/number.h: checked parsing of decimal integers from text a server or a file handed us.
//
// std::stoull and friends accept leading blanks and signs ("-1" becomes 2^64-1), ignore trailing
// garbage and throw std::invalid_argument / std::out_of_range, whose messages say nothing useful.
// parse_decimal accepts exactly an optional '-' (signed types only) and digits, the whole text,
// within T's range, and otherwise throws Error{code, "unexpected <what> '<text>'"} (the text cut
// to 64 characters, non-printable bytes shown as '?').
#pragma once

#include <charconv>
#include <string>
#include <string_view>
#include <type_traits>

#include "base/error.h"

namespace sr {

std::string quoted_excerpt(std::string_view text);

template <class T>
T parse_decimal(const std::string& text, std::string_view what, Errc code = Errc::kIo) {
  static_assert(std::is_integral_v<T>);
  T value{};
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, value, 10);
  bool ok = !text.empty() && ec == std::errc() && p == end && text.front() != '+';
  if (!ok) throw Error(code, "unexpected " + std::string(what) + " " + quoted_excerpt(text));
  return value;
}

}  // namespace sr
