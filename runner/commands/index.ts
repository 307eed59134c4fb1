/**
 * The runner's commands, one module each (its definition, its typed shape and its `run`), in
 * the order the manual lists them.
 */
import * as abort from "./abort";
import * as commands from "./commands";
import * as drill from "./drill";
import * as finish from "./finish";
import * as plan from "./plan";
import * as promote from "./promote";
import * as record from "./record";
import * as resume from "./resume";
import * as start from "./start";
import * as status from "./status";

export const COMMANDS = {
  start,
  promote,
  resume,
  finish,
  abort,
  status,
  record,
  drill,
  commands,
  plan,
};

export type CommandName = keyof typeof COMMANDS;

/** Any command's typed form, told apart by `command`. */
export type Command = {
  [K in CommandName]: Extract<ReturnType<(typeof COMMANDS)[K]["shape"]>, { ok: true }>["command"];
}[CommandName];
