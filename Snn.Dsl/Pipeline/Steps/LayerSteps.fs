/// The known Phase II layer steps, for decoding phaseTwo and ablation lists from JSON. A layer
/// step defined in a script becomes known to JSON experiments with `LayerSteps.register`.
module Snn.Dsl.Pipeline.Steps.LayerSteps

open Snn.Dsl.Pipeline

let private known = Kinds<ILayerStep>("layer step", _.Json)

/// Makes a kind of layer step decodable from JSON (library kinds are registered already).
let register (definition: LayerStepDefinition<'P>) =
    known.Register(definition.Name, LayerStep.decoder definition)

do
    register CalibratePotential.definition
    register CalibrateWeights.definition

/// A layer step as {"step": name, ...}.
let codec = known.Codec

/// The parameters of a step that holds a list of layer steps, as {"steps": [...]}.
let list (wrap: ILayerStep list -> 'P) (unwrap: 'P -> ILayerStep list) =
    Snn.Dsl.Json.Codec.record wrap
    |> Snn.Dsl.Json.Codec.field "steps" unwrap (Snn.Dsl.Json.Codec.list codec)

/// "name (step, step, ...)".
let label (name: string) (steps: ILayerStep list) =
    let names = steps |> List.map _.Name |> String.concat ", "
    $"%s{name} (%s{names})"
