// Every subcommand, in the order `corral --help` lists them.

import type { Command } from '../command.js';
import { checkCommand } from './check.js';
import { configCommand } from './config.js';
import { emulatorCommand } from './emulator.js';
import { loadtestCommand } from './loadtest.js';
import { recommendCommand } from './recommend.js';
import { reloadCommand } from './reload.js';
import { startCommand } from './start.js';
import { statusCommand } from './status.js';
import { stopCommand } from './stop.js';
import { systemdUnitCommand } from './systemd-unit.js';
import { versionCommand } from './version.js';

export const commands: readonly Command[] = [startCommand, reloadCommand, stopCommand, statusCommand, configCommand, systemdUnitCommand, checkCommand, emulatorCommand, loadtestCommand, recommendCommand, versionCommand];
