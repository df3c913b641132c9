#!/usr/bin/env node
/** `npm run quickstart:synth`: rewrites examples/quickstart/argus-cdk.out from the CDK app (see lib/quickstart-assembly.ts). */
import { QUICKSTART_ASSEMBLY_DIR, synthQuickstartAssembly, writeQuickstartAssembly } from '../lib/quickstart-assembly.ts';

const files = synthQuickstartAssembly();
writeQuickstartAssembly(files);
console.log(`wrote ${files.map((f) => f.name).join(', ')} to ${QUICKSTART_ASSEMBLY_DIR}`);
