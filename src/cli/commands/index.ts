// Every subcommand, in the order `corral --help` lists them.

import type { Command } from '../command.js';
import { configCommand } from './config.js';
import { loadtestCommand } from './loadtest.js';
import { startCommand } from './start.js';
import { systemdUnitCommand } from './systemd-unit.js';
import { versionCommand } from './version.js';

export const commands: readonly Command[] = [startCommand, configCommand, systemdUnitCommand, loadtestCommand, versionCommand];
