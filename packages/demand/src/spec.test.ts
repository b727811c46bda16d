import { describe, expect, it } from 'vitest';
import { countWeights } from '@tally/ml';
import { createDemandModel } from './model.ts';
import { FEATURE_SPEC_VERSION, checkDemandOffer, demandFederatedCount, demandHeadCount, demandInputs, demandWeightCount, parseDemandSpec, specJson } from './spec.ts';

const declaration = { kind: 'demand', products: ['bread', 'milk', 'eggs'] };

describe('the demand model declaration', () => {
  it('fills the defaults and writes one canonical JSON text', () => {
    const spec = parseDemandSpec(declaration);
    expect(spec).toMatchObject({ featureVersion: FEATURE_SPEC_VERSION, hidden: [32, 16], seed: 7 });
    expect(spec.holidays).toContain('12-25');
    expect(specJson(parseDemandSpec(JSON.parse(specJson(spec)))).toString()).toBe(specJson(spec));
  });

  it.each([
    [{ ...declaration, kind: 'linear' }, 'task.model.kind'],
    [{ ...declaration, products: [] }, 'task.model.products'],
    [{ ...declaration, products: ['bread', 'bread'] }, 'task.model.products[1]'],
    [{ ...declaration, products: [' bread'] }, 'task.model.products[0]'],
    [{ ...declaration, hidden: [0] }, 'task.model.hidden'],
    [{ ...declaration, holidays: ['2025-02-30'] }, 'task.model.holidays[0]'],
    [{ ...declaration, featureVersion: 99 }, 'task.model.featureVersion'],
    [{ ...declaration, colour: 'red' }, 'task.model.colour'],
  ])('refuses %j at %s', (u, field) => {
    expect(() => parseDemandSpec(u)).toThrow(new RegExp(`^${field.replace(/[.[\]]/g, '\\$&')}: `));
  });

  it('counts the weights of the model it declares, as TF.js does', () => {
    for (const hidden of [[32, 16], [8], []]) {
      const spec = parseDemandSpec({ ...declaration, hidden });
      const model = createDemandModel(demandInputs(spec), { hidden: spec.hidden, seed: spec.seed });
      expect(demandWeightCount(spec)).toBe(countWeights(model));
      model.dispose();
    }
  });

  describe('a shop checks an offer before training, and says which side to change', () => {
    const json = specJson(parseDemandSpec(declaration));
    const n = demandWeightCount(parseDemandSpec(declaration));
    it('accepts a matching one', () => {
      expect(checkDemandOffer(json, n, 't')).toHaveProperty('spec');
    });
    it.each([
      [undefined, n, /declares no model.*the coordinator's operator must declare task\.model/],
      ['{"kind":"linear"}', n, /trains a "linear" model.*set trainer\.kind in this shop's config/],
      ['not json', n, /not JSON/],
      [JSON.stringify({ ...declaration, featureVersion: 2 }), n, /run the same tally version/],
      [json, n + 1, /the coordinator's operator must set task\.modelLength to \d+/],
    ])('refuses %s with %s weights', (modelSpec, length, why) => {
      const r = checkDemandOffer(modelSpec, length, 't');
      expect('refusal' in r && r.refusal).toMatch(why);
    });
  });
});

describe('"federated": which layers travel through secure aggregation', () => {
  it('defaults to every layer, and then sends the same declaration text as before the field existed', () => {
    const spec = parseDemandSpec(declaration);
    expect(spec.federated).toBe('all');
    expect(specJson(spec)).not.toMatch(/federated/);
    expect(demandFederatedCount(spec)).toBe(demandWeightCount(spec));
  });

  it('"body": all but the output layer, whose weights are the last of the flat vector', () => {
    const spec = parseDemandSpec({ ...declaration, hidden: [8, 4], federated: 'body' });
    expect(JSON.parse(specJson(spec))).toMatchObject({ federated: 'body' });
    expect(parseDemandSpec(JSON.parse(specJson(spec)))).toEqual(spec);
    expect(demandHeadCount(spec)).toBe(4 + 1);
    expect(demandFederatedCount(spec)).toBe(demandWeightCount(spec) - 5);
    // The offer carries the body's length; the whole model's length is refused, naming the fix.
    expect(checkDemandOffer(specJson(spec), demandFederatedCount(spec), 't')).toHaveProperty('spec');
    const r = checkDemandOffer(specJson(spec), demandWeightCount(spec), 't');
    expect('refusal' in r && r.refusal).toMatch(/body federated\) has \d+: the coordinator's operator must set task\.modelLength to \d+/);
  });

  it.each([
    [{ ...declaration, federated: 'head' }, /^task\.model\.federated: expected "all" .* or "body" .*, got "head"$/],
    [{ ...declaration, federated: true }, /^task\.model\.federated: expected "all"/],
    [{ ...declaration, hidden: [], federated: 'body' }, /^task\.model\.federated: "body" shares all but the output layer, but hidden is \[\]/],
  ])('refuses %j', (u, why) => {
    expect(() => parseDemandSpec(u)).toThrow(why);
  });
});
