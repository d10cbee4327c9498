/** ioctl(2) on perf event fds: enable, disable, attach a BPF program. */
import { lastErrno, libcFunc, throwErrno } from "./libc.ts";

const ioctl3 = libcFunc<(fd: number, request: number, arg: number) => number>(
  "int ioctl(int fd, unsigned long request, long arg)",
);

export const PERF_EVENT_IOC = {
  ENABLE: 0x2400,
  DISABLE: 0x2401,
  /** _IOW('$', 8, __u32) */
  SET_BPF: 0x40042408,
} as const;

const NAMES: Record<number, string> = {
  [PERF_EVENT_IOC.ENABLE]: "PERF_EVENT_IOC_ENABLE",
  [PERF_EVENT_IOC.DISABLE]: "PERF_EVENT_IOC_DISABLE",
  [PERF_EVENT_IOC.SET_BPF]: "PERF_EVENT_IOC_SET_BPF",
};

/** ioctl(fd, request, arg); throws SyscallError naming the request. */
export function ioctl(fd: number, request: number, arg = 0): number {
  const r = ioctl3(fd, request, arg);
  if (r < 0) throwErrno(`ioctl(${NAMES[request] ?? `0x${request.toString(16)}`})`, lastErrno());
  return r;
}
