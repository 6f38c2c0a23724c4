/** Linux x86_64 errno numbers (asm-generic/errno-base.h, errno.h) the model answers with. */

export const EPERM: i32 = 1;
export const ENOENT: i32 = 2;
export const ESRCH: i32 = 3;
export const EINTR: i32 = 4;
export const E2BIG: i32 = 7;
export const EAGAIN: i32 = 11;
export const ENOMEM: i32 = 12;
export const EACCES: i32 = 13;
export const EEXIST: i32 = 17;
export const EINVAL: i32 = 22;
export const EFBIG: i32 = 27;
export const ENOSPC: i32 = 28;
export const ERANGE: i32 = 34;
export const ENOMSG: i32 = 42;
export const EIDRM: i32 = 43;
