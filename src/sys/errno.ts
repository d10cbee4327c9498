const NAMES: Record<number, string> = {
  1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 5: "EIO", 6: "ENXIO", 7: "E2BIG", 8: "ENOEXEC", 9: "EBADF",
  10: "ECHILD", 11: "EAGAIN", 12: "ENOMEM", 13: "EACCES", 14: "EFAULT", 16: "EBUSY", 17: "EEXIST", 19: "ENODEV",
  20: "ENOTDIR", 21: "EISDIR", 22: "EINVAL", 23: "ENFILE", 24: "EMFILE", 25: "ENOTTY", 28: "ENOSPC", 30: "EROFS",
  34: "ERANGE", 38: "ENOSYS", 61: "ENODATA", 75: "EOVERFLOW", 90: "EMSGSIZE", 95: "EOPNOTSUPP", 105: "ENOBUFS",
  110: "ETIMEDOUT", 114: "EALREADY", 524: "ENOTSUPP",
};

/** Symbolic errno name: EPERM, not 1 (users search for the symbol). */
export function errnoName(errno: number): string {
  return NAMES[errno] ?? `errno ${errno}`;
}

export const ERRNO = {
  EPERM: 1, ENOENT: 2, ESRCH: 3, EINTR: 4, E2BIG: 7, EBADF: 9, EAGAIN: 11, ENOMEM: 12, EACCES: 13, EFAULT: 14,
  EBUSY: 16, EEXIST: 17, ENODEV: 19, EINVAL: 22, ENOSPC: 28, ENOSYS: 38, EOPNOTSUPP: 95, ENOTSUPP: 524,
} as const;
