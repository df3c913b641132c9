/** `argus import oscal FILE` and the OSCAL assessment-results output of `argus report`. */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { EVIDENCE_DIR, indexLedgerEntries, ledgerKey, outputPath } from '../../adapters/local/evidence-ledger.ts';
import type { LocalRuntime } from '../../adapters/local/local-runtime.ts';
import { resolveHome } from '../../adapters/local/home.ts';
import { buildAssessmentResults } from '../../core/oscal/assessment-results.ts';
import { mergeImported, requirementsFromCatalog, type MergeOutcome } from '../../core/oscal/catalog-import.ts';
import { OscalError } from '../../core/oscal/oscal-error.ts';

export interface OscalImportSummary extends MergeOutcome {
  readonly title: string;
  readonly framework: string;
  readonly controls: number;
}

/** Reads an OSCAL catalog file and applies its controls as Requirements, merged with the stored ones. */
export async function importOscalFile(rt: LocalRuntime, file: string, options: { framework?: string; prefix?: string; dryRun?: boolean } = {}): Promise<OscalImportSummary> {
  let doc: unknown;
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new OscalError(`${file}: cannot read an OSCAL JSON document (${cause instanceof Error ? cause.message : String(cause)}); only OSCAL JSON is supported`, { file }, { cause });
  }
  const catalog = requirementsFromCatalog(doc, { file: path.basename(file), framework: options.framework, namePrefix: options.prefix });
  const merged = mergeImported(catalog.requirements, (name) => rt.engine.index.requirements.get(name));
  if (!options.dryRun && merged.definitions.length > 0) await rt.apply(merged.definitions);
  return { ...merged, title: catalog.title, framework: catalog.framework, controls: catalog.requirements.length };
}

/** The assessment-results document for the runtime's current state, linked to its evidence ledger. */
export function oscalAssessmentResults(rt: LocalRuntime, home: string): Record<string, unknown> {
  rt.engine.advanceTo(rt.clock.now());
  rt.engine.flush();
  const evidenceDir = path.join(home, EVIDENCE_DIR);
  const entries = indexLedgerEntries(evidenceDir);
  return buildAssessmentResults(rt.engine, {
    evidenceHref: (hex) => `${path.relative(process.cwd(), evidenceDir) || '.'}/${outputPath(hex)}`,
    ledgerEntry: (result) => entries.get(ledgerKey(result)),
  });
}

export function registerOscalCommands(program: Command): void {
  const importCommand = program.commands.find((c) => c.name() === 'import') ?? program.command('import').description('import definitions from a source');
  importCommand
    .command('oscal')
    .description('import an OSCAL catalog (or resolved profile catalog) as Requirements; a changed control statement bumps its version')
    .argument('<file>', 'OSCAL catalog JSON')
    .option('--framework <name>', 'framework prefix of the references (default: nist-800-53 for SP 800-53)')
    .option('--prefix <text>', 'prepended to control ids to name the requirements', '')
    .option('--dry-run', 'show what would change, write nothing')
    .action(async (file: string, opts: { framework?: string; prefix: string; dryRun?: boolean }) => {
      const { LocalRuntime } = await import('../../adapters/local/local-runtime.ts');
      // A dry run only reads: it runs beside `argus serve` too.
      const rt = await LocalRuntime.open({ home: resolveHome(program.opts<{ home?: string }>().home), readOnly: opts.dryRun === true });
      try {
        const s = await importOscalFile(rt, file, opts);
        console.log(`${s.title}: ${s.controls} controls as ${s.framework} requirements${opts.dryRun ? ' (dry run)' : ''}`);
        console.log(`${s.added.length} added, ${s.definitions.length - s.added.length} updated (${s.bumped.length} with a new version), ${s.unchanged.length} unchanged`);
        for (const b of s.bumped.slice(0, 20)) console.log(`requirement/${b.name} v${b.from} → v${b.to}`);
        if (s.bumped.length > 20) console.log(`... and ${s.bumped.length - 20} more`);
      } finally {
        await rt.close();
      }
    });
}
