#include "errors.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

namespace ipcemu {

namespace {

constexpr double kSafeMax = 9007199254740991.0;  // Number.MAX_SAFE_INTEGER

bool Fail(napi_env env, bool range, const char* name, const char* what) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return false;
  std::string message = std::string(name) + " must be " + what;
  if (range) {
    napi_throw_range_error(env, nullptr, message.c_str());
  } else {
    napi_throw_type_error(env, nullptr, message.c_str());
  }
  return false;
}

}  // namespace

void ThrowErrno(napi_env env, int err, const char* syscall) {
  napi_value error, number, name;
  if (napi_create_object(env, &error) != napi_ok) return;
  napi_create_int32(env, err, &number);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &name);
  napi_set_named_property(env, error, "errno", number);
  napi_set_named_property(env, error, "syscall", name);
  napi_throw(env, error);
}

bool ArgInt(napi_env env, napi_value value, const char* name, int32_t* out) {
  double d;
  if (napi_get_value_double(env, value, &d) != napi_ok) return Fail(env, false, name, "a number");
  return IoInt(env, d, name, out);
}

bool ArgLong(napi_env env, napi_value value, const char* name, int64_t* out) {
  double d;
  napi_status status = napi_get_value_double(env, value, &d);
  if (status == napi_ok) {
    if (!(d >= -kSafeMax && d <= kSafeMax)) return Fail(env, !std::isnan(d), name, "a safe integer or a bigint");
    int64_t i = static_cast<int64_t>(d);
    if (static_cast<double>(i) != d) return Fail(env, false, name, "an integer");
    *out = i;
    return true;
  }
  bool lossless = false;
  if (napi_get_value_bigint_int64(env, value, out, &lossless) != napi_ok) {
    return Fail(env, false, name, "a number or a bigint");
  }
  if (!lossless) return Fail(env, true, name, "a bigint that fits a C long");
  return true;
}

bool ArgSize(napi_env env, napi_value value, const char* name, int64_t* out) {
  double d;
  if (napi_get_value_double(env, value, &d) != napi_ok) return Fail(env, false, name, "a number");
  return IoLong(env, d, name, out);
}

bool ArgBytes(napi_env env, napi_value value, const char* name, uint8_t** data, size_t* length) {
  napi_typedarray_type type;
  void* raw = nullptr;
  if (napi_get_typedarray_info(env, value, &type, length, &raw, nullptr, nullptr) != napi_ok ||
      type != napi_uint8_array) {
    return Fail(env, false, name, "a Uint8Array");
  }
  // A detached buffer reports no data; an empty array may too.
  static uint8_t empty[1];
  if (raw == nullptr) *length = 0;
  *data = raw == nullptr ? empty : static_cast<uint8_t*>(raw);
  return true;
}

bool ArgInt32s(napi_env env, napi_value value, const char* name, int32_t** data, size_t* length) {
  napi_typedarray_type type;
  void* raw = nullptr;
  if (napi_get_typedarray_info(env, value, &type, length, &raw, nullptr, nullptr) != napi_ok ||
      type != napi_int32_array) {
    return Fail(env, false, name, "an Int32Array");
  }
  if (raw == nullptr) *length = 0;
  *data = static_cast<int32_t*>(raw);
  return true;
}

bool ArgDoubles(napi_env env, napi_value value, const char* name, size_t min_length, double** data) {
  napi_typedarray_type type;
  size_t length = 0;
  void* raw = nullptr;
  if (napi_get_typedarray_info(env, value, &type, &length, &raw, nullptr, nullptr) != napi_ok ||
      type != napi_float64_array || raw == nullptr || length < min_length) {
    char what[64];
    std::snprintf(what, sizeof what, "a Float64Array of at least %zu elements", min_length);
    return Fail(env, false, name, what);
  }
  *data = static_cast<double*>(raw);
  return true;
}

bool ArgFunction(napi_env env, napi_value value, const char* name) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_function) return Fail(env, false, name, "a function");
  return true;
}

bool IoInt(napi_env env, double d, const char* name, int32_t* out) {
  if (!(d >= -2147483648.0 && d <= 2147483647.0)) return Fail(env, !std::isnan(d), name, "an integer that fits a C int");
  int32_t i = static_cast<int32_t>(d);
  if (static_cast<double>(i) != d) return Fail(env, false, name, "an integer");
  *out = i;
  return true;
}

bool IoLong(napi_env env, double d, const char* name, int64_t* out) {
  if (!(d >= -kSafeMax && d <= kSafeMax)) return Fail(env, !std::isnan(d), name, "a safe integer");
  int64_t i = static_cast<int64_t>(d);
  if (static_cast<double>(i) != d) return Fail(env, false, name, "an integer");
  *out = i;
  return true;
}

napi_value Result(napi_env env, int64_t result) {
  napi_value out;
  // An int32 is a small integer to V8 at once; a double is checked for that first.
  if (result >= INT32_MIN && result <= INT32_MAX) {
    napi_create_int32(env, static_cast<int32_t>(result), &out);
  } else {
    napi_create_double(env, static_cast<double>(result), &out);
  }
  return out;
}

}  // namespace ipcemu
