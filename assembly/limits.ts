/**
 * Linux's compile-time IPC constants and this kernel's sysctls. The sysctls
 * are per kernel instance (one wasm instance is one IPC namespace) and the
 * host changes them through set_limits(), as writing /proc/sys/kernel/* would.
 */

// include/uapi/linux/msg.h
export const MSGMNI: i32 = 32000;
export const MSGMAX: i32 = 8192;
export const MSGMNB: i32 = 16384;
/** MSGMNI * MSGMNB / 1024: what IPC_INFO reports as msgpool. */
export const MSGPOOL: i32 = 512000;
export const MSGTQL: i32 = MSGMNB;
export const MSGMAP: i32 = MSGMNB;
export const MSGSSZ: i32 = 16;
/** (MSGPOOL * 1024) / MSGSSZ, capped to 0xffff (it is an unsigned short). */
export const MSGSEG: i32 = 0xffff;

// ipc/util.h without ipcmni_extend: ids are (seq << 15) + index.
export const IPCMNI_SHIFT: i32 = 15;
export const IPCMNI: i32 = 1 << IPCMNI_SHIFT;
export const IPCMNI_IDX_MASK: i32 = IPCMNI - 1;
/** ipcid_seq_max(): INT_MAX >> IPCMNI_SHIFT. */
export const IPCID_SEQ_MAX: i32 = i32.MAX_VALUE >> IPCMNI_SHIFT;
/** ipc_min_cycle: RADIX_TREE_MAP_SIZE (1 << 6) on a kernel without CONFIG_BASE_SMALL. */
export const IPC_MIN_CYCLE: i32 = 64;

// The sysctls (kernel.msgmax, kernel.msgmnb, kernel.msgmni). Linux keeps
// them as unsigned ints; proc_dointvec_minmax bounds them to [0, INT_MAX]
// (msgmni to [0, IPCMNI]).
export let msgCtlMax: i32 = MSGMAX;
export let msgCtlMnb: i32 = MSGMNB;
export let msgCtlMni: i32 = MSGMNI;

/** Sets the sysctls; false (nothing changed) if one is outside what the sysctl accepts. */
export function setMsgLimits(max: i32, mnb: i32, mni: i32): bool {
  if (max < 0 || mnb < 0 || mni < 0 || mni > IPCMNI) return false;
  msgCtlMax = max;
  msgCtlMnb = mnb;
  msgCtlMni = mni;
  return true;
}
