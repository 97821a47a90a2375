import { Cli, type CommandClass } from 'clipanion';
import { buildInfo } from './build-info';
import type { IsulaCommand } from './command-base';

/** Each command module's default export is its class. */
type Loader = () => Promise<{ default: unknown }>;

/** The commands that have their own file, loaded on demand: a run pays only for its own command. */
const COMMANDS: Record<string, Loader> = {
  version: () => import('./commands/version.js'),
  info: () => import('./commands/info.js'),
  images: () => import('./commands/images.js'),
  rmi: () => import('./commands/rmi.js'),
  tag: () => import('./commands/tag.js'),
  load: () => import('./commands/load.js'),
  import: () => import('./commands/import.js'),
  inspect: () => import('./commands/inspect.js'),
  pull: () => import('./commands/pull.js'),
  login: () => import('./commands/login.js'),
  logout: () => import('./commands/logout.js'),
  create: () => import('./commands/create.js'),
  cp: () => import('./commands/cp.js'),
  attach: () => import('./commands/attach.js'),
  exec: () => import('./commands/exec.js'),
  run: () => import('./commands/run.js'),
  start: () => import('./commands/start.js'),
  stop: () => import('./commands/stop.js'),
  kill: () => import('./commands/kill.js'),
  rm: () => import('./commands/rm.js'),
  restart: () => import('./commands/restart.js'),
  pause: () => import('./commands/pause.js'),
  unpause: () => import('./commands/unpause.js'),
  rename: () => import('./commands/rename.js'),
  wait: () => import('./commands/wait.js'),
  ps: () => import('./commands/ps.js'),
  logs: () => import('./commands/logs.js'),
  top: () => import('./commands/top.js'),
  stats: () => import('./commands/stats.js'),
  update: () => import('./commands/update.js'),
  'export': () => import('./commands/export.js'),
  events: () => import('./commands/events.js'),
  'volume ls': () => import('./commands/volume/ls.js'),
  'volume rm': () => import('./commands/volume/rm.js'),
  'volume prune': () => import('./commands/volume/prune.js'),
};

/** Routes `path` (one or two words) through clipanion to its command class. */
export async function runCommand(path: string[], rest: string[]): Promise<number> {
  const name = path.join(' ');
  const loader = COMMANDS[name];
  const command = loader
    ? ((await loader()).default as typeof IsulaCommand)
    : (await import('./commands/pending.js')).pendingCommands().find((c) => (c as unknown as { paths: string[][] }).paths[0]!.join(' ') === name);
  if (!command) throw new Error(`no command class for "${name}"`);
  const cli = new Cli({ binaryName: 'isula', binaryVersion: buildInfo.version, enableColors: false });
  cli.register(command as unknown as CommandClass);
  return cli.run([...path, ...rest], Cli.defaultContext);
}
