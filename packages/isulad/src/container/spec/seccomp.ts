import { readFile } from 'node:fs/promises';
import { SpecError, type OciSeccomp, type OciSeccompArg, type OciSeccompSyscall } from './types';

/**
 * Seccomp profiles in the Docker / iSulad `seccomp_default.json` format (a superset of the OCI
 * `linux.seccomp` object: `archMap`, and per-rule `includes` / `excludes` by capability, arch and
 * kernel) and their compilation into the OCI object runc takes.
 */

export interface SeccompFilter {
  caps?: string[] | null;
  arches?: string[] | null;
  minKernel?: string | null;
}

export interface SeccompRule {
  name?: string;
  names?: string[] | null;
  action: string;
  errnoRet?: number;
  args?: OciSeccompArg[] | null;
  comment?: string;
  includes?: SeccompFilter | null;
  excludes?: SeccompFilter | null;
}

export interface SeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[] | null;
  archMap?: { architecture: string; subArchitectures?: string[] | null }[] | null;
  flags?: string[] | null;
  syscalls?: SeccompRule[] | null;
}

const words = (s: string): string[] => s.trim().split(/\s+/);

/** Syscalls every container may use (Docker's default allow list). */
const BASE_ALLOW = words(`
  accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32 clock_adjtime
  clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep
  clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3 epoll_create
  epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2
  execve execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir
  fchmod fchmodat fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork
  fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex
  futex_time64 futex_waitv futimesat getcpu getcwd getdents getdents64 getegid getegid32 geteuid geteuid32
  getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority
  getrandom getresgid getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid
  getsockname getsockopt get_thread_area gettid gettimeofday getuid getuid32 getxattr inotify_add_watch
  inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents
  io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit io_uring_enter io_uring_register
  io_uring_setup ipc kill landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown lchown32
  lgetxattr link linkat listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64
  madvise membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall
  mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend
  mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock munlockall munmap
  name_to_handle_at nanosleep newfstatat _newselect open openat openat2 pause pidfd_open pidfd_send_signal
  pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2
  prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink
  readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr rename
  renameat renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo
  rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity
  sched_getattr sched_getparam sched_get_priority_max sched_get_priority_min sched_getscheduler
  sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam
  sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64 send
  sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32
  setgroups setgroups32 setitimer setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid
  setresuid32 setreuid setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address
  setuid setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask
  sigreturn socketcall socketpair splice stat stat64 statfs statfs64 statx symlink symlinkat sync
  sync_file_range syncfs sysinfo tee tgkill time timer_create timer_delete timer_getoverrun timer_gettime
  timer_gettime64 timer_settime timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64
  timerfd_settime timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat
  utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
`);

const ALLOW = 'SCMP_ACT_ALLOW';
const eq = (index: number, value: number): OciSeccompArg => ({ index, value, op: 'SCMP_CMP_EQ' });
/** CLONE_NEWNS|CLONE_NEWCGROUP|CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWUSER|CLONE_NEWPID|CLONE_NEWNET */
const CLONE_NS_FLAGS = 0x7e020000;
const byCap = (cap: string, list: string): SeccompRule => ({ names: words(list), action: ALLOW, includes: { caps: [cap] } });

/** The built-in default profile (Docker-like allow list, default action EPERM). */
export const DEFAULT_SECCOMP_PROFILE: SeccompProfile = {
  defaultAction: 'SCMP_ACT_ERRNO',
  defaultErrnoRet: 1,
  archMap: [
    { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
    { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
  ],
  syscalls: [
    { names: BASE_ALLOW, action: ALLOW },
    { names: words('process_vm_readv process_vm_writev ptrace'), action: ALLOW, includes: { minKernel: '4.8' } },
    { names: ['socket'], action: ALLOW, args: [{ index: 0, value: 40, op: 'SCMP_CMP_NE' }] }, // no AF_VSOCK
    ...[0, 8, 0x20000, 0x20008, 0xffffffff].map((p) => ({ names: ['personality'], action: ALLOW, args: [eq(0, p)] })),
    {
      names: words('arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls'),
      action: ALLOW,
      includes: { arches: ['arm', 'arm64'] },
    },
    { names: ['arch_prctl'], action: ALLOW, includes: { arches: ['amd64', 'x32'] } },
    { names: ['modify_ldt'], action: ALLOW, includes: { arches: ['amd64', 'x32', 'x86'] } },
    byCap('CAP_DAC_READ_SEARCH', 'open_by_handle_at'),
    byCap(
      'CAP_SYS_ADMIN',
      `bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount mount_setattr move_mount
       open_tree perf_event_open quotactl quotactl_fd setdomainname sethostname setns syslog umount umount2 unshare`,
    ),
    {
      names: ['clone'],
      action: ALLOW,
      args: [{ index: 0, value: CLONE_NS_FLAGS, op: 'SCMP_CMP_MASKED_EQ' }],
      excludes: { caps: ['CAP_SYS_ADMIN'] },
    },
    // glibc falls back to clone when clone3 says ENOSYS
    { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38, excludes: { caps: ['CAP_SYS_ADMIN'] } },
    byCap('CAP_SYS_BOOT', 'reboot'),
    byCap('CAP_SYS_CHROOT', 'chroot'),
    byCap('CAP_SYS_MODULE', 'delete_module init_module finit_module'),
    byCap('CAP_SYS_PACCT', 'acct'),
    byCap('CAP_SYS_PTRACE', 'kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace'),
    byCap('CAP_SYS_RAWIO', 'iopl ioperm'),
    byCap('CAP_SYS_TIME', 'settimeofday stime clock_settime clock_settime64'),
    byCap('CAP_SYS_TTY_CONFIG', 'vhangup'),
    byCap('CAP_SYS_NICE', 'get_mempolicy mbind set_mempolicy set_mempolicy_home_node'),
    byCap('CAP_SYSLOG', 'syslog'),
    byCap('CAP_BPF', 'bpf'),
    byCap('CAP_PERFMON', 'perf_event_open'),
  ],
};

/** Host arch (Node `process.arch` or `uname -m` spelling) → Go arch name used by `includes.arches`. */
export function goArch(arch: string): string {
  switch (arch) {
    case 'x64':
    case 'x86_64':
    case 'amd64':
      return 'amd64';
    case 'arm64':
    case 'aarch64':
      return 'arm64';
    case 'ia32':
    case 'i386':
    case 'i686':
    case 'x86':
      return '386';
    case 'arm':
    case 'armv7l':
      return 'arm';
    case 'riscv64':
      return 'riscv64';
    case 's390x':
      return 's390x';
    case 'ppc64':
    case 'ppc64le':
      return 'ppc64le';
    default:
      return arch;
  }
}

const SCMP_ARCH_OF_GO: Record<string, string> = {
  amd64: 'SCMP_ARCH_X86_64',
  arm64: 'SCMP_ARCH_AARCH64',
  '386': 'SCMP_ARCH_X86',
  arm: 'SCMP_ARCH_ARM',
  riscv64: 'SCMP_ARCH_RISCV64',
  s390x: 'SCMP_ARCH_S390X',
  ppc64le: 'SCMP_ARCH_PPC64LE',
};

function kernelAtLeast(have: string | undefined, want: string): boolean {
  if (!have) return true;
  const parse = (v: string) => v.split(/[.-]/).slice(0, 2).map((x) => Number.parseInt(x, 10) || 0);
  const [a1, a2] = parse(have);
  const [b1, b2] = parse(want);
  return a1! > b1! || (a1 === b1 && a2! >= b2!);
}

export interface CompileSeccompOptions {
  /** Capabilities the container process gets (for `includes/excludes.caps`). */
  capabilities: readonly string[];
  /** Host arch, any spelling {@link goArch} knows. */
  arch: string;
  /** Running kernel release (`6.1.0-18-amd64`); unknown → every `minKernel` passes. */
  kernel?: string;
}

/** Compiles a Docker-format profile (or passes an OCI one through) into `linux.seccomp`. */
export function compileSeccomp(profile: SeccompProfile, opts: CompileSeccompOptions): OciSeccomp {
  if (typeof profile !== 'object' || profile === null || typeof profile.defaultAction !== 'string') {
    throw new SpecError('Invalid seccomp profile: defaultAction is required');
  }
  const arch = goArch(opts.arch);
  const caps = new Set(opts.capabilities);
  let architectures: string[] = [];
  if (profile.architectures && profile.architectures.length > 0) {
    if (profile.archMap && profile.archMap.length > 0) {
      throw new SpecError("'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'");
    }
    architectures = [...profile.architectures];
  } else if (profile.archMap) {
    const native = SCMP_ARCH_OF_GO[arch];
    for (const entry of profile.archMap) {
      if (entry.architecture === native) architectures.push(entry.architecture, ...(entry.subArchitectures ?? []));
    }
  }
  const syscalls: OciSeccompSyscall[] = [];
  for (const rule of profile.syscalls ?? []) {
    const inc = rule.includes ?? {};
    const exc = rule.excludes ?? {};
    if (inc.arches && inc.arches.length > 0 && !inc.arches.includes(arch)) continue;
    if (inc.caps && inc.caps.length > 0 && !inc.caps.every((c) => caps.has(c))) continue;
    if (inc.minKernel && !kernelAtLeast(opts.kernel, inc.minKernel)) continue;
    if (exc.arches && exc.arches.includes(arch)) continue;
    if (exc.caps && exc.caps.some((c) => caps.has(c))) continue;
    const names = rule.names && rule.names.length > 0 ? [...rule.names] : rule.name ? [rule.name] : [];
    if (names.length === 0) throw new SpecError('Invalid seccomp profile: a syscall rule has no name');
    if (typeof rule.action !== 'string') throw new SpecError(`Invalid seccomp profile: no action for ${names.join(',')}`);
    const out: OciSeccompSyscall = { names, action: rule.action };
    if (rule.errnoRet !== undefined) out.errnoRet = rule.errnoRet;
    if (rule.args && rule.args.length > 0) out.args = rule.args.map((a) => ({ ...a }));
    syscalls.push(out);
  }
  const result: OciSeccomp = { defaultAction: profile.defaultAction };
  if (profile.defaultErrnoRet !== undefined) result.defaultErrnoRet = profile.defaultErrnoRet;
  if (architectures.length > 0) result.architectures = architectures;
  if (profile.flags && profile.flags.length > 0) result.flags = [...profile.flags];
  result.syscalls = syscalls;
  return result;
}

/** Parses profile JSON text; `what` names the source in the error. */
export function parseSeccompProfile(text: string, what: string): SeccompProfile {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new SpecError(`Decoding seccomp profile ${what} failed: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new SpecError(`Decoding seccomp profile ${what} failed: not a JSON object`);
  }
  return doc as SeccompProfile;
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The daemon's default profile: `path` when it exists, else {@link DEFAULT_SECCOMP_PROFILE}. */
export async function loadDefaultSeccompProfile(path: string): Promise<SeccompProfile> {
  let text: string | undefined;
  try {
    text = await readIfExists(path);
  } catch (err) {
    throw new SpecError(`Failed to read default seccomp profile ${path}: ${(err as Error).message}`);
  }
  return text === undefined ? DEFAULT_SECCOMP_PROFILE : parseSeccompProfile(text, path);
}

/**
 * The profile named by `--security-opt seccomp=<x>`: a path to a JSON file, or the JSON itself
 * (the isula client may send the file content).
 */
export async function loadSeccompOption(value: string): Promise<SeccompProfile> {
  const trimmed = value.trim();
  if (trimmed.startsWith('{')) return parseSeccompProfile(trimmed, '(inline)');
  let text: string;
  try {
    text = await readFile(trimmed, 'utf8');
  } catch (err) {
    throw new SpecError(`opening seccomp profile (${trimmed}) failed: ${(err as Error).message}`);
  }
  return parseSeccompProfile(text, trimmed);
}
