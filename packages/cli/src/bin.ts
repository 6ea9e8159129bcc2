/** The `baton` executable's entry. Run with tsx: `tsx packages/cli/src/bin.ts <command>`. */
import { buildProgram, runCli } from './program';
import { allCommands } from './commands';

const program = buildProgram(allCommands);
const code = await runCli(program, process.argv.slice(2));
process.exitCode = code;
