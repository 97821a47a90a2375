import { compareNames, HELP_OPTION, renderOptionTable } from './help';
import type { CommandSpec, OptionSpec } from './types';

// Option/command facts (names, short letters, which take values, which repeat, usage strings)
// follow upstream iSulad's `isula` client; all descriptions are our own wording, except the TLS
// options whose text the customer spec gives in its `isulad --help` listing.

function B(long: string, short: string, description: string): OptionSpec {
  return short ? { long, short, kind: 'bool', description } : { long, kind: 'bool', description };
}
function S(long: string, short: string, description: string): OptionSpec {
  return short ? { long, short, kind: 'string', description } : { long, kind: 'string', description };
}
function L(long: string, short: string, description: string): OptionSpec {
  return short ? { long, short, kind: 'list', description } : { long, kind: 'list', description };
}

const DEBUG_OPTION: OptionSpec = B('debug', 'D', 'Turn on client debug logging');

const CONNECTION_OPTIONS: OptionSpec[] = [
  S('host', 'H', 'Daemon socket address to connect to'),
  B('tls', '', 'Use TLS; implied by --tlsverify'),
  S('tlscacert', '', 'Trust certs signed only by this CA (default "/root/.iSulad/ca.pem")'),
  S('tlscert', '', 'Path to TLS certificate file (default "/root/.iSulad/cert.pem")'),
  S('tlskey', '', 'Path to TLS key file (default "/root/.iSulad/key.pem")'),
  B('tlsverify', '', 'Use TLS and verify the remote'),
];

/** Options every `isula` sub-command accepts (`login` lacks `-D`); `--help` is implicit. */
export const commonOptions: OptionSpec[] = [DEBUG_OPTION, ...CONNECTION_OPTIONS];

/** `isula --version` entry shown in the top-level help. */
const VERSION_OPTION: OptionSpec = B('version', '', 'Print the version and exit');

// ---------------------------------------------------------------------------------------------
// create / run

const CREATE_OPTIONS: OptionSpec[] = [
  L('add-host', '', 'Add a host-to-IP entry (host:ip)'),
  L('annotation', '', 'Add an annotation to the container (KEY[=VALUE])'),
  S('blkio-weight', '', 'Relative block IO weight, 10 to 1000, or 0 to turn off (default 0)'),
  L('blkio-weight-device', '', 'Per-device block IO weight (DEVICE_NAME:WEIGHT)'),
  L('cap-add', '', "Grant Linux capabilities ('ALL' grants every capability)"),
  L('cap-drop', '', "Revoke Linux capabilities ('ALL' revokes every capability)"),
  S('cgroup-parent', '', 'Parent cgroup of the container'),
  S('cgroupns', '', 'Cgroup namespace mode of the container'),
  S('cpu-period', '', 'CFS scheduler period limit'),
  S('cpu-quota', '', 'CFS scheduler quota limit'),
  S('cpu-rt-period', '', 'Real-time scheduler period in microseconds'),
  S('cpu-rt-runtime', '', 'Real-time scheduler runtime in microseconds'),
  S('cpu-shares', '', 'Relative CPU weight'),
  S('cpus', '', 'Number of CPUs the container may use'),
  S('cpuset-cpus', '', 'CPUs the container may run on (e.g. 0-3, 0,1)'),
  S('cpuset-mems', '', 'Memory nodes the container may use (e.g. 0-3, 0,1)'),
  L('device', '', 'Expose a host device inside the container'),
  L('device-cgroup-rule', '', 'Append a rule to the allowed-devices cgroup list'),
  L('device-read-bps', '', 'Read rate limit of a device in bytes per second (<device-path>:<number>[<unit>])'),
  L('device-read-iops', '', 'Read rate limit of a device in IO operations per second (<device-path>:<number>)'),
  L('device-write-bps', '', 'Write rate limit of a device in bytes per second (<device-path>:<number>[<unit>])'),
  L('device-write-iops', '', 'Write rate limit of a device in IO operations per second (<device-path>:<number>)'),
  L('dns', '', 'Use a custom DNS server'),
  L('dns-opt', '', 'Use a custom DNS option'),
  L('dns-search', '', 'Use a custom DNS search domain'),
  S('entrypoint', '', "Replace the image's default entrypoint"),
  L('env', 'e', 'Set an environment variable (KEY=VALUE)'),
  L('env-file', '', 'Read environment variables from a file'),
  S('env-target-file', '', 'Write the environment to this file inside the rootfs'),
  S('external-rootfs', '', 'Use a rootfs not managed by isulad (directory or block device)'),
  S('files-limit', '', 'Maximum number of open files (-1 means unlimited)'),
  L('group-add', '', 'Join an additional group'),
  S('health-cmd', '', 'Command that checks the container health'),
  B('health-exit-on-unhealthy', '', 'Kill the container once it is found unhealthy'),
  S('health-interval', '', 'Time between two health checks (ms|s|m|h) (default 30s)'),
  S('health-retries', '', 'Consecutive failed checks before reporting unhealthy (default 3)'),
  S('health-start-period', '', 'Grace period before failed checks count (ms|s|m|h) (default 0s)'),
  S('health-timeout', '', 'Longest time one health check may run (ms|s|m|h) (default 30s)'),
  S('hook-spec', '', 'File with hook definitions (prestart, poststart, poststop)'),
  S('host-channel', '', 'Memory shared between the host and the container'),
  S('hostname', 'h', 'Hostname of the container'),
  L('hugetlb-limit', '', 'Huge page limit ([size:]<limit>, e.g. --hugetlb-limit 2MB:32MB)'),
  B('interactive', 'i', 'Keep standard input open even when not attached'),
  S('ipc', '', 'IPC namespace mode of the container'),
  S('kernel-memory', '', 'Kernel memory limit'),
  L('label', 'l', 'Attach a metadata label (KEY=VALUE)'),
  L('label-file', '', 'Read labels from a line-delimited file'),
  S('log-driver', '', 'Log driver of the container (json-file or syslog)'),
  L('log-opt', '', 'Log driver option (KEY=VALUE)'),
  S('memory', 'm', 'Memory limit'),
  S('memory-reservation', '', 'Soft memory limit'),
  S('memory-swap', '', "Limit of memory plus swap ('-1' means unlimited swap)"),
  S('memory-swappiness', '', 'Memory swappiness, 0 to 100 (default -1)'),
  L('mount', '', 'Attach a filesystem mount'),
  S('name', 'n', 'Name for the container'),
  S('net', '', 'Network mode of the container'),
  B('no-healthcheck', '', 'Ignore any healthcheck defined by the image'),
  B('no-pivot', '', 'Do not switch the root filesystem with pivot_root'),
  S('ns-change-opt', '', 'Namespaced kernel parameters a system container may change'),
  B('oom-kill-disable', '', 'Turn off the OOM killer'),
  S('oom-score-adj', '', 'Adjust the OOM score preference (-1000 to 1000)'),
  S('pid', '', 'PID namespace mode of the container'),
  S('pids-limit', '', 'Maximum number of processes (-1 means unlimited)'),
  B('privileged', '', 'Run the container with extended privileges'),
  S('pull', '', 'When to pull the image: "always", "missing" or "never" (default "missing")'),
  B('read-only', '', 'Mount the root filesystem read-only'),
  S('restart', '', 'Restart policy: no, always, on-reboot or on-failure[:max-retries]'),
  B('rm', '', 'Delete the container automatically once it exits'),
  S('runtime', 'R', 'Runtime that runs the container'),
  L('security-opt', '', 'Security setting'),
  S('shm-size', '', 'Size of /dev/shm (default 64MB)'),
  S('stop-signal', '', 'Signal that stops the container (default "SIGTERM")'),
  L('storage-opt', '', 'Storage driver option for this container'),
  L('sysctl', '', 'Namespaced kernel parameter (KEY=VALUE)'),
  B('system-container', '', 'Turn on the features needed by system containers'),
  L('tmpfs', '', 'Mount a tmpfs on the given directory'),
  B('tty', 't', 'Allocate a pseudo terminal'),
  L('ulimit', '', 'Resource limit (TYPE=SOFT[:HARD])'),
  S('user', 'u', 'User to run as (<name|uid>[:<group|gid>])'),
  S('user-remap', '', 'User remapping of a system container'),
  S('userns', '', 'User namespace mode when userns-remap is active'),
  S('uts', '', 'UTS namespace mode of the container'),
  L('volume', 'v', 'Bind-mount a host path or a volume'),
  L('volumes-from', '', 'Mount every volume of another container'),
  S('workdir', '', 'Working directory of the container process'),
  // native network build
  L('expose', '', 'Expose a port or a range of ports'),
  S('ip', '', 'Static IP address of the container'),
  S('mac-address', '', 'Static MAC address of the container'),
  S('network', '', 'Network(s) the container joins'),
  L('publish', 'p', 'Publish container ports on the host'),
  B('publish-all', 'P', 'Publish every exposed port on a random host port'),
];

const UPDATE_OPTIONS: OptionSpec[] = [
  S('blkio-weight', '', 'Relative block IO weight, 10 to 1000, or 0 to turn off (default 0)'),
  S('cpu-period', '', 'CFS scheduler period limit'),
  S('cpu-quota', '', 'CFS scheduler quota limit'),
  S('cpu-rt-period', '', 'Real-time scheduler period in microseconds'),
  S('cpu-rt-runtime', '', 'Real-time scheduler runtime in microseconds'),
  S('cpu-shares', '', 'Relative CPU weight'),
  S('cpus', '', 'Number of CPUs the container may use'),
  S('cpuset-cpus', '', 'CPUs the container may run on (e.g. 0-3, 0,1)'),
  S('cpuset-mems', '', 'Memory nodes the container may use (e.g. 0-3, 0,1)'),
  S('kernel-memory', '', 'Kernel memory limit'),
  S('memory', 'm', 'Memory limit'),
  S('memory-reservation', '', 'Soft memory limit'),
  S('memory-swap', '', "Limit of memory plus swap ('-1' means unlimited swap)"),
  S('restart', '', 'Restart policy applied when the container exits'),
];

const FORMAT = (short: string): OptionSpec => S('format', short, 'Format the output with a Go template');

function cmd(name: string, usage: string, description: string, own: OptionSpec[], withDebug = true): CommandSpec {
  const options = withDebug ? [...own, DEBUG_OPTION, ...CONNECTION_OPTIONS] : [...own, ...CONNECTION_OPTIONS];
  return { name, usage: `isula ${usage}`, description, options };
}

/**
 * Every `isula` sub-command (management sub-commands are named `volume ls`, `network create`, ...),
 * each with its own options followed by the common options.
 */
export const isulaCommands: CommandSpec[] = [
  cmd('attach', 'attach [OPTIONS] CONTAINER', 'Connect to the standard streams of a running container', []),
  cmd(
    'cp',
    'cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH\n  cp [OPTIONS] SRC_PATH CONTAINER:DEST_PATH',
    'Copy files or directories between a container and the host',
    [],
  ),
  cmd('create', 'create [OPTIONS] --external-rootfs=PATH|IMAGE [COMMAND] [ARG...]', 'Create a new container without starting it', CREATE_OPTIONS),
  cmd('events', 'events [command options]', 'Stream real-time events from the daemon', [
    S('name', 'n', 'Only show events of this container'),
    S('since', 'S', 'Show events created since this timestamp'),
    S('until', 'U', 'Show events created until this timestamp'),
  ]),
  cmd('exec', 'exec [OPTIONS] CONTAINER COMMAND [ARG...]', 'Execute a command inside a running container', [
    B('detach', 'd', 'Run the command in the background'),
    L('env', 'e', 'Set an environment variable (KEY=VALUE)'),
    B('interactive', 'i', 'Keep standard input open even when not attached'),
    B('tty', 't', 'Allocate a pseudo terminal'),
    S('user', 'u', 'User to run as (<name|uid>[:<group|gid>])'),
    S('workdir', '', 'Working directory of the command (absolute path)'),
  ]),
  cmd('export', 'export [command options] [ID|NAME]', "Save a container's filesystem as a tar archive", [
    S('output', 'o', 'Write the archive to this file'),
  ]),
  cmd('images', 'images', 'Show the locally stored images', [
    L('filter', 'f', 'Filter the output (reference, since, before, dangling, label)'),
    B('quiet', 'q', 'Print image IDs only'),
  ]),
  cmd('import', 'import file REPOSITORY[:TAG]', 'Create a filesystem image from the contents of a tarball', []),
  cmd('info', 'info', 'Show system-wide daemon information', []),
  cmd('inspect', 'inspect [options] CONTAINER|IMAGE [CONTAINER|IMAGE...]', 'Show low-level details of containers or images', [
    FORMAT('f'),
    S('time', 't', 'Timeout of the inspect request in seconds (default 120)'),
  ]),
  cmd('kill', 'kill [OPTIONS] CONTAINER [CONTAINER...]', 'Send a signal to one or more running containers', [
    S('signal', 's', 'Signal to send (default SIGKILL)'),
  ]),
  cmd('load', 'load [OPTIONS] --input=FILE', 'Load an image from a tar archive', [
    S('input', 'i', 'Archive or manifest to read'),
    S('tag', '', 'Name the loaded image as name:tag (docker type only)'),
    S('type', 't', 'Image type: embedded or docker (default docker)'),
  ]),
  cmd(
    'login',
    'login [OPTIONS] SERVER',
    'Store credentials for an image registry',
    [
      S('password', 'p', 'Registry password'),
      B('password-stdin', '', 'Read the password from standard input'),
      S('username', 'u', 'Registry user name'),
    ],
    false,
  ),
  cmd('logout', 'logout SERVER', 'Forget the credentials of an image registry', []),
  cmd('logs', 'logs [OPTIONS] CONTAINER', 'Show the output logged by a container', [
    B('follow', 'f', 'Keep streaming new log output'),
    S('tail', '', 'Show only this many lines from the end (default all)'),
    B('timestamps', 't', 'Prefix every line with its timestamp'),
  ]),
  cmd('pause', 'pause [OPTIONS] CONTAINER [CONTAINER...]', 'Suspend every process in one or more containers', []),
  cmd('port', 'port CONTAINER [PRIVATE_PORT[/PROTO]]', 'Show the port mappings of a container', []),
  cmd('ps', 'ps [OPTIONS]', 'Show containers', [
    B('all', 'a', 'Show every container (default: running ones only)'),
    L('filter', 'f', 'Filter the output (id, label, name, status, last_n)'),
    FORMAT(''),
    S('last', 'n', 'Show the n most recently created containers (any state)'),
    B('latest', 'l', 'Show the most recently created container (any state)'),
    B('no-trunc', '', 'Do not shorten the output'),
    B('quiet', 'q', 'Print container IDs only'),
  ]),
  cmd('pull', 'pull [OPTIONS] NAME[:TAG|@DIGEST]', 'Download an image or a repository from a registry', []),
  cmd('rename', 'rename [OPTIONS] OLD_NAME NEW_NAME', 'Give a container a new name', []),
  cmd('restart', 'restart [OPTIONS] CONTAINER [CONTAINER...]', 'Restart one or more containers', [
    S('time', 't', 'Seconds to wait for the stop before killing (default 10)'),
  ]),
  cmd('rm', 'rm [OPTIONS] CONTAINER [CONTAINER...]', 'Delete one or more containers', [
    B('force', 'f', 'Kill and delete running containers as well'),
    B('volumes', 'v', 'Also delete the anonymous volumes of the container'),
  ]),
  cmd('rmi', 'rmi [OPTIONS] IMAGE [IMAGE...]', 'Delete one or more images', [B('force', 'f', 'Delete the image forcibly')]),
  cmd('run', 'run [OPTIONS] ROOTFS|IMAGE [COMMAND] [ARG...]', 'Create and start a new container running a command', [
    ...CREATE_OPTIONS,
    B('detach', 'd', 'Run in the background and print the container ID'),
  ]),
  cmd('search', 'search [OPTIONS] TERM', 'Look up images in a registry', [
    L('filter', 'f', 'Filter the results by the given conditions'),
    FORMAT(''),
    S('limit', '', 'Maximum number of results (default 25)'),
    B('no-trunc', '', 'Do not shorten the output'),
  ]),
  cmd('start', 'start [OPTIONS] CONTAINER [CONTAINER...]', 'Start one or more containers that are not running', [
    B('attach', 'a', "Attach to the container's output streams"),
  ]),
  cmd('stats', 'stats [OPTIONS] [CONTAINER...]', 'Show a live view of container resource usage', [
    B('all', 'a', 'Show every container (default: running ones only)'),
    B('no-stream', '', 'Print one snapshot instead of streaming'),
    B('original', '', 'Show the raw, unprocessed figures'),
  ]),
  cmd('stop', 'stop [OPTIONS] CONTAINER [CONTAINER...]', 'Stop one or more running containers', [
    B('force', 'f', 'Stop the container forcibly'),
    S('time', 't', 'Seconds to wait for the stop before killing (default 10)'),
  ]),
  cmd('tag', 'tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]', 'Give an existing image (SOURCE_IMAGE) an additional name (TARGET_IMAGE)', []),
  cmd('top', 'top [OPTIONS] CONTAINER [ps OPTIONS]', 'Show the processes running in a container', []),
  cmd('unpause', 'unpause [OPTIONS] CONTAINER [CONTAINER...]', 'Resume every process in one or more paused containers', []),
  cmd('update', 'update [OPTIONS] CONTAINER [CONTAINER...]', 'Change the resource settings of one or more containers', UPDATE_OPTIONS),
  cmd('version', 'version', 'Show version information of the client and the daemon', []),
  cmd('wait', 'wait [OPTIONS] CONTAINER [CONTAINER...]', 'Wait until containers stop, then print their exit codes', []),
  // management commands: `isula volume ...`
  cmd('volume ls', 'volume ls [OPTIONS]', 'Show volumes', [B('quiet', 'q', 'Print volume names only')]),
  cmd('volume prune', 'volume prune [OPTIONS]', 'Delete every local volume no container uses', [
    B('force', 'f', 'Skip the confirmation prompt'),
  ]),
  cmd('volume rm', 'volume rm [OPTIONS] VOLUME [VOLUME...]', 'Delete one or more volumes; volumes in use by a container are refused', []),
  // management commands: `isula network ...`
  cmd('network create', 'network create [OPTIONS] [NETWORK]', 'Set up a new network', [
    S('driver', 'd', 'Driver that manages the network (default "bridge")'),
    S('gateway', '', 'IPv4 or IPv6 gateway of the subnet'),
    B('internal', '', 'Block access from outside the network'),
    S('subnet', '', 'Subnet in CIDR notation'),
  ]),
  cmd('network inspect', 'network inspect [OPTIONS] NETWORK [NETWORK...]', 'Show details of one or more networks', [FORMAT('f')]),
  cmd('network ls', 'network ls [flags]', 'Show networks', [
    L('filter', 'f', 'Filter the output by name or plugin'),
    B('quiet', 'q', 'Print network names only'),
  ]),
  cmd('network rm', 'network rm [OPTIONS] NETWORK [NETWORK...]', 'Delete one or more networks', []),
];

/** Management commands (have sub-commands) and their one-line descriptions. */
export const isulaCommandGroups: Readonly<Record<string, string>> = {
  network: 'Manage container networks',
  volume: 'Manage local volumes',
};

/** Look up a command by its full name (`run`, `volume ls`). */
export function findIsulaCommand(name: string): CommandSpec | undefined {
  return isulaCommands.find((c) => c.name === name);
}

function commandLine(name: string, width: number, description: string): string {
  return `\t${name.padEnd(width)}\t${description}\n`;
}

/**
 * Text of `isula` / `isula --help`: usage, management commands, commands (each list sorted by name,
 * names padded to the longest command name, tab separated) and the common options table.
 */
export const isulaTopLevelHelp = (): string => {
  const entries: Array<{ name: string; description: string; group: boolean }> = [];
  for (const c of isulaCommands) {
    if (!c.name.includes(' ')) entries.push({ name: c.name, description: c.description, group: false });
  }
  for (const [name, description] of Object.entries(isulaCommandGroups)) {
    entries.push({ name, description, group: true });
  }
  entries.sort((a, b) => compareNames(a.name, b.name));
  const width = entries.reduce((w, e) => Math.max(w, e.name.length), 0);

  let out = 'USAGE:\n\tisula <command> [args...]\n\n';
  out += 'MANAGEMENT COMMANDS:\n';
  for (const e of entries) if (e.group) out += commandLine(e.name, width, e.description);
  out += '\nCOMMANDS:\n';
  for (const e of entries) if (!e.group) out += commandLine(e.name, width, e.description);
  out += '\nCOMMON OPTIONS :\n';
  out += renderOptionTable([...CONNECTION_OPTIONS, HELP_OPTION, VERSION_OPTION]);
  return out;
};

/** Text of `isula volume` / `isula network --help` (sub-command list of a management command). */
export function isulaGroupHelp(group: string): string {
  const prefix = `${group} `;
  const subs = isulaCommands
    .filter((c) => c.name.startsWith(prefix))
    .map((c) => ({ name: c.name.slice(prefix.length), description: c.description }))
    .sort((a, b) => compareNames(a.name, b.name));
  const width = subs.reduce((w, e) => Math.max(w, e.name.length), 0);
  let out = `USAGE:\n\tisula ${group} <command> [args...]\n\nCOMMANDS:\n`;
  for (const s of subs) out += commandLine(s.name, width, s.description);
  out += `\nRun isula ${group} COMMAND --help for more information on the COMMAND\n`;
  return out;
}
