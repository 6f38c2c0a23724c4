// Errors crossing into JavaScript. The addon never names an errno: a system
// call's failure is returned as a negative number (or thrown as a plain
// { errno, syscall } object where a number cannot be returned), and the host
// builds the IpcError from host/errors.ts, the one errno table. What the
// kernel cannot even be asked (a wrong JavaScript type) is a TypeError or
// RangeError thrown here, so no input can crash the process.
#pragma once

#include <node_api.h>

#include <cstddef>
#include <cstdint>

namespace ipcemu {

// Throws { errno, syscall } for a failure that is not the result of the call
// itself (no thread could be started for it, say).
void ThrowErrno(napi_env env, int err, const char* syscall);

// Argument readers. Each answers false after throwing a TypeError or
// RangeError (or when an exception was already pending), true with *out set.

// A C int given as a number: an integer in [-2^31, 2^31).
bool ArgInt(napi_env env, napi_value value, const char* name, int32_t* out);
// A C long given as a number (a safe integer) or a bigint in the 64-bit range.
bool ArgLong(napi_env env, napi_value value, const char* name, int64_t* out);
// A size given as a number: a safe integer (negative sizes pass: the kernel answers them).
bool ArgSize(napi_env env, napi_value value, const char* name, int64_t* out);
// A Uint8Array (a Buffer is one). A detached one reads as empty.
bool ArgBytes(napi_env env, napi_value value, const char* name, uint8_t** data, size_t* length);
// A Float64Array of at least `min_length` elements.
// An Int32Array (any length; a detached one has none): its elements, writable in place.
bool ArgInt32s(napi_env env, napi_value value, const char* name, int32_t** data, size_t* length);
bool ArgDoubles(napi_env env, napi_value value, const char* name, size_t min_length, double** data);
// A function.
bool ArgFunction(napi_env env, napi_value value, const char* name);

// The same checks for a number JavaScript left in shared memory (AddonState::io).
// A C int: an integer in [-2^31, 2^31).
bool IoInt(napi_env env, double value, const char* name, int32_t* out);
// A C long given as a safe integer.
bool IoLong(napi_env env, double value, const char* name, int64_t* out);

// A result number: >= 0 is the call's result, < 0 the negated errno.
napi_value Result(napi_env env, int64_t result);

}  // namespace ipcemu
