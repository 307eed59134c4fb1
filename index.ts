// pg-recovery: the Postgres disaster-recovery overlay. See README.md; the composition is in stacks/.
import { recoveryOverlay } from "./stacks/overlay";

export = recoveryOverlay();
