// The product's composition, with Azure and GitHub stood in for (see ./platform.ts).
import { recoveryOverlay } from "../../stacks/overlay";
import { kubernetesOnly } from "./platform";

export = recoveryOverlay(new Date(), kubernetesOnly);
