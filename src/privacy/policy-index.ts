/**
 * @module Views of the policy the checks and the deletion work from: which class (or technical) each
 * declared column belongs to, the compiled cache and object patterns, the overdue conditions, and the
 * policy's own consistency (a column declared twice, a location on an undeclared table, a bad pattern).
 */
import { type CompiledPattern, compilePattern } from './key-pattern.ts'
import type {
  ClassId,
  DeletionTrigger,
  OverdueCheck,
  PeriodRuleId,
  PrivacyPolicy,
  RuleId,
} from './policy-types.ts'

export type Holder = ClassId | 'technical'

export interface KeyDeclaration {
  holder: Holder
  compiled: CompiledPattern
  boundTo?: 'portal' | 'account'
  rules: readonly RuleId[]
  triggers: readonly DeletionTrigger[]
  maxAge?: PeriodRuleId
}

export interface DeclaredOverdue {
  holder: Holder
  table: string
  check: OverdueCheck
}

/** table → column → holder. Duplicates are reported by `policyProblems`; here the first one wins. */
export function declaredColumns(policy: PrivacyPolicy): Map<string, Map<string, Holder>> {
  const tables = new Map<string, Map<string, Holder>>()
  for (const { table, columns, holder } of columnEntries(policy)) {
    const declared = tables.get(table) ?? new Map<string, Holder>()
    for (const column of columns) if (!declared.has(column)) declared.set(column, holder)
    tables.set(table, declared)
  }
  return tables
}

function columnEntries(policy: PrivacyPolicy) {
  const entries: { table: string; columns: readonly string[]; holder: Holder }[] = []
  for (const dataClass of Object.values(policy.classes)) {
    for (const location of dataClass.locations) {
      if (location.store === 'postgres') entries.push({ ...location, holder: dataClass.id })
    }
  }
  for (const technical of policy.technical.columns) entries.push({ ...technical, holder: 'technical' })
  return entries
}

export function cacheDeclarations(policy: PrivacyPolicy): KeyDeclaration[] {
  return keyDeclarations(policy, 'cache')
}

export function objectDeclarations(policy: PrivacyPolicy): KeyDeclaration[] {
  return keyDeclarations(policy, 'objects')
}

function keyDeclarations(policy: PrivacyPolicy, store: 'cache' | 'objects'): KeyDeclaration[] {
  const declarations: KeyDeclaration[] = []
  for (const dataClass of Object.values(policy.classes)) {
    for (const location of dataClass.locations) {
      if (location.store !== store) continue
      declarations.push({
        holder: dataClass.id,
        compiled: compilePattern(location.pattern),
        boundTo: location.boundTo,
        rules: location.rules,
        triggers: location.triggers,
        ...('maxAge' in location && location.maxAge ? { maxAge: location.maxAge } : {}),
      })
    }
  }
  const technical = store === 'cache' ? policy.technical.cacheKeys : policy.technical.objects
  for (const key of technical) {
    declarations.push({
      holder: 'technical',
      compiled: compilePattern(key.pattern),
      ...(key.boundTo ? { boundTo: key.boundTo } : {}),
      rules: [],
      triggers: key.boundTo ? ['uninstall', 'support-deletion'] : [],
    })
  }
  return declarations
}

export function overdueChecks(policy: PrivacyPolicy): DeclaredOverdue[] {
  const checks: DeclaredOverdue[] = []
  for (const dataClass of Object.values(policy.classes)) {
    for (const location of dataClass.locations) {
      if (location.store !== 'postgres') continue
      for (const check of location.overdue ?? [])
        checks.push({ holder: dataClass.id, table: location.table, check })
    }
  }
  for (const technical of policy.technical.columns) {
    for (const check of technical.overdue ?? [])
      checks.push({ holder: 'technical', table: technical.table, check })
  }
  return checks
}

/** Mistakes in the policy itself; empty when it is consistent. */
export function policyProblems(policy: PrivacyPolicy): string[] {
  const problems: string[] = []
  const seen = new Map<string, Holder>()
  for (const { table, columns, holder } of columnEntries(policy)) {
    if (!(table in policy.tables))
      problems.push(`${table}: columns declared but the table has no owner entry`)
    for (const column of columns) {
      const earlier = seen.get(`${table}.${column}`)
      if (earlier) problems.push(`${table}.${column}: declared twice (${earlier} and ${holder})`)
      seen.set(`${table}.${column}`, holder)
    }
  }
  for (const table of Object.keys(policy.tables)) {
    if (![...seen.keys()].some((key) => key.startsWith(`${table}.`))) {
      problems.push(`${table}: has an owner entry but no declared columns`)
    }
  }
  for (const [id, dataClass] of Object.entries(policy.classes)) {
    if (dataClass.id !== id) problems.push(`${id}: class entry carries id ${dataClass.id}`)
    if (dataClass.locations.length === 0) problems.push(`${id}: no storage location`)
    for (const location of dataClass.locations) {
      if (location.rules.length === 0) problems.push(`${id}: a location without a retention rule`)
      if (location.triggers.length === 0) problems.push(`${id}: a location without a deletion trigger`)
    }
  }
  for (const store of ['cache', 'objects'] as const) {
    try {
      keyDeclarations(policy, store)
    } catch (error) {
      problems.push((error as Error).message)
    }
  }
  for (const { table, check } of overdueChecks(policy)) {
    if (!/\$1|\$2/.test(check.where)) problems.push(`${table}: overdue check "${check.finds}" uses no cutoff`)
  }
  return problems
}
