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

// include/uapi/linux/sem.h. SEMMNS, SEMMAP, SEMMNU and SEMUME are what
// IPC_INFO reports whatever the sysctls say: compile-time constants.
export const SEMMNI: i32 = 32000;
export const SEMMSL: i32 = 32000;
export const SEMMNS: i32 = SEMMNI * SEMMSL;
export const SEMOPM: i32 = 500;
export const SEMVMX: i32 = 32767;
/** The largest undo adjustment: SEMVMX, so an adjustment lives in [-SEMAEM - 1, SEMAEM]. */
export const SEMAEM: i32 = SEMVMX;
export const SEMUME: i32 = SEMOPM;
export const SEMMNU: i32 = SEMMNS;
export const SEMMAP: i32 = SEMMNS;
export const SEMUSZ: i32 = 20;

// The sysctl kernel.sem: "semmsl semmns semopm semmni". proc_dointvec takes
// any int for the first three; semmni must lie in [0, IPCMNI]
// (sem_check_semmni). The model keeps all four in [0, INT_MAX].
export let semCtlMsl: i32 = SEMMSL;
export let semCtlMns: i32 = SEMMNS;
export let semCtlOpm: i32 = SEMOPM;
export let semCtlMni: i32 = SEMMNI;

/** Sets kernel.sem; false (nothing changed) if a value is outside what the model accepts. */
export function setSemLimits(msl: i32, mns: i32, opm: i32, mni: i32): bool {
  if (msl < 0 || mns < 0 || opm < 0 || mni < 0 || mni > IPCMNI) return false;
  semCtlMsl = msl;
  semCtlMns = mns;
  semCtlOpm = opm;
  semCtlMni = mni;
  return true;
}

// Pipes (include/linux/pipe_fs_i.h, fs/pipe.c). The model's pages are 4 KiB, as on x86_64.
export const PAGE_SHIFT: u32 = 12;
export const PAGE_SIZE: u32 = 1 << PAGE_SHIFT;
export const PIPE_BUF: u32 = 4096;
/** Slots of a new pipe. */
export const PIPE_DEF_BUFFERS: u32 = 16;
/** Slots of a new pipe once its user is over pipe-user-pages-soft (alloc_pipe_info). */
export const PIPE_MIN_DEF_BUFFERS: u32 = 2;

// The sysctls fs.pipe-max-size (bytes, a power-of-two number of pages),
// fs.pipe-user-pages-soft and fs.pipe-user-pages-hard (pages; 0 = no limit).
export let pipeMaxSize: u32 = 1048576;
export let pipeUserPagesSoft: u32 = 16384;
export let pipeUserPagesHard: u32 = 0;

/**
 * Sets the pipe sysctls; false (nothing changed) for a size that
 * proc_dopipe_max_size refuses (round_pipe_size() gives 0: above 2^31).
 * The size is stored rounded as round_pipe_size() rounds it.
 */
export function setPipeLimits(maxSize: u32, soft: u32, hard: u32): bool {
  const rounded = roundPipeSize(maxSize);
  if (rounded == 0) return false;
  pipeMaxSize = rounded;
  pipeUserPagesSoft = soft;
  pipeUserPagesHard = hard;
  return true;
}

/** round_pipe_size(): 0 above 2^31, else at least a page and a power of two. */
export function roundPipeSize(size: u32): u32 {
  if (size > (<u32>1 << 31)) return 0;
  if (size < PAGE_SIZE) return PAGE_SIZE;
  return size <= 1 ? 1 : <u32>1 << (32 - <u32>clz(size - 1));
}
