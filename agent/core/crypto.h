// Small cryptographic helpers over OpenSSL shared by the integrations that
// sign or hash what they send (webhook hmac_secret, the ACS SMS signature).
// Pure functions, thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace linkwatch {

// Raw 32-byte digests.
std::string Sha256(std::string_view data);
std::string HmacSha256(std::string_view key, std::string_view data);

// Lower-case hex and standard (padded) base64 of raw bytes.
std::string HexEncode(std::string_view bytes);
std::string Base64Encode(std::string_view bytes);
// Strict standard base64 (padded, length a multiple of 4, no whitespace);
// nullopt when `text` is not that (e.g. an access key cut short).
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace linkwatch
