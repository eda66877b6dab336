// fuzz/bytes_fuzz.cc: sr::ByteReader (the bounds-checked reader under every binary parser) driven
// by an operation script, plus base64_decode and from_hex (key slots and the config object are
// base64 inside JSON read straight from storage, before anything is authenticated).
//
// Input: byte 0 = number of operation bytes n (mod 64), then n operation bytes, then the data the
// reader runs over. Properties: every read either throws sr::Error{kCorrupt} without moving past
// the end, or consumes exactly what it returns; varints round-trip through ByteWriter; base64
// and hex decoders throw sr::Error or return what re-encodes to an equivalent text.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fuzz_util.h"

using namespace sr;

static void run_reader(ByteSpan ops, ByteSpan data) {
  ByteReader r(data, "fuzz bytes");
  for (size_t i = 0; i < ops.size(); ++i) {
    const size_t before = r.pos();
    FUZZ_CHECK(before + r.remaining() == data.size());
    try {
      switch (ops[i] % 9) {
        case 0:
          (void)r.u8();
          FUZZ_CHECK(r.pos() == before + 1);
          break;
        case 1:
          (void)r.u32();
          FUZZ_CHECK(r.pos() == before + 4);
          break;
        case 2:
          (void)r.u64();
          FUZZ_CHECK(r.pos() == before + 8);
          break;
        case 3: {
          int64_t v = r.i64();
          FUZZ_CHECK(r.pos() == before + 8);
          ByteWriter w;
          w.i64(v);
          FUZZ_CHECK(std::memcmp(w.buffer().data(), data.data() + before, 8) == 0);
          break;
        }
        case 4: {
          uint64_t v = r.varint();
          size_t used = r.pos() - before;
          FUZZ_CHECK(used >= 1 && used <= 10);
          ByteWriter w;
          w.varint(v);
          FUZZ_CHECK(w.buffer().size() <= used);  // canonical form is never longer
          ByteReader r2(w.buffer(), "fuzz varint");
          FUZZ_CHECK(r2.varint() == v && r2.done());
          break;
        }
        case 5: {
          size_t n = (i + 1 < ops.size()) ? ops[++i] : 0;
          ByteSpan b = r.raw(n);
          FUZZ_CHECK(b.size() == n && b.data() == data.data() + before);
          FUZZ_CHECK(r.pos() == before + n);
          break;
        }
        case 6: {
          ByteSpan b = r.bytes();
          FUZZ_CHECK(b.data() + b.size() == data.data() + r.pos());
          FUZZ_CHECK(b.data() >= data.data() + before);
          break;
        }
        case 7: {
          std::string s = r.str();
          FUZZ_CHECK(s.size() <= r.pos() - before);
          break;
        }
        case 8:
          FUZZ_CHECK(r.done() == (r.remaining() == 0));
          break;
      }
    } catch (const Error& e) {
      FUZZ_CHECK(e.code() == Errc::kCorrupt);
      FUZZ_CHECK(r.pos() <= data.size());
    }
    FUZZ_CHECK(r.pos() <= data.size());
  }
}

static void run_text(ByteSpan data) {
  std::string_view text = as_chars(data);
  try {
    Bytes b = base64_decode(text);
    FUZZ_CHECK(b.size() <= 3 * text.size() / 4);
    Bytes again = base64_decode(base64_encode(b));
    FUZZ_CHECK(again == b);
  } catch (const Error& e) {
    FUZZ_CHECK(e.code() == Errc::kCorrupt);
  }
  try {
    Bytes b = from_hex(text);
    FUZZ_CHECK(b.size() * 2 == text.size());
    FUZZ_CHECK(from_hex(to_hex(b)) == b);
  } catch (const Error& e) {
    FUZZ_CHECK(e.code() == Errc::kUsage);
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t nops = data[0] % 64;
  if (nops > size - 1) nops = size - 1;
  run_reader(ByteSpan(data + 1, nops), ByteSpan(data + 1 + nops, size - 1 - nops));
  run_text(ByteSpan(data, size));
  // Round trip of arbitrary bytes through base64.
  FUZZ_CHECK(base64_decode(base64_encode(ByteSpan(data, size))) == Bytes(data, data + size));
  return 0;
}
