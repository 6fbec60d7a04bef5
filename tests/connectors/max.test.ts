/**
 * The MAX connector in long-polling mode against the MAX emulator: the connector contract suite.
 */
import { describeConnectorContract } from './contract.ts'
import { MAX_FEATURES, maxHarness } from './max-harness.ts'

describeConnectorContract('max (long polling)', () => maxHarness(), MAX_FEATURES)
