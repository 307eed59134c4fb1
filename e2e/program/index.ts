// The product's composition, with Azure and GitHub stood in for (see ./platform.ts). The test
// suite runs the same program inline through the Automation API (e2e/test/support/stack.ts);
// this entry lets `pulumi up` run it from this directory where a language host is installed.
import { e2eProgram } from "./platform";

export = e2eProgram();
