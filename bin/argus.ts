#!/usr/bin/env node
/** The CDK app (`npx cdk synth`, `npx cdk deploy`): see docs/deploy.md. */
import { buildArgusApp } from '../lib/app.ts';

buildArgusApp().app.synth();
