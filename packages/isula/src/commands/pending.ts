import { findIsulaCommand, isulaCommands } from '@isula/argv';
import { IsulaCommand, type CommandContext } from '../command-base';
import { UsageError } from '../render/errors';

/**
 * Commands whose capability has not landed yet, with the issue that brings them. They still parse
 * their options (so `--help` and bad flags behave as upstream) and then say plainly that they are
 * not available, exit 1. A command leaves this list when it gets its own file.
 */
export const PENDING: Record<string, string> = {
  search: 'images',
  'network create': 'networking', 'network inspect': 'networking', 'network ls': 'networking', 'network rm': 'networking',
};

export function pendingCommands(): (typeof IsulaCommand)[] {
  return isulaCommands
    .filter((spec) => PENDING[spec.name] !== undefined)
    .map((spec) => {
      const capability = PENDING[spec.name]!;
      return class extends IsulaCommand {
        static override paths = [spec.name.split(' ')];
        static override spec = findIsulaCommand(spec.name)!;

        protected async run(_ctx: CommandContext): Promise<number> {
          throw new UsageError(`isula ${spec.name}: not available yet in this isula (the ${capability} capability has not landed; see README)`);
        }
      };
    });
}
