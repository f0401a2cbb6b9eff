/// The known kinds of pipeline steps, for decoding pipelines from JSON. A step defined in a
/// script or notebook becomes known to JSON experiments with `Registry.register`.
module Snn.Dsl.Pipeline.Steps.Registry

open Snn.Dsl.Pipeline

let private known = Kinds<IStep>("step", _.Json)

/// Makes a kind of step decodable from JSON (library kinds are registered already).
let register (definition: StepDefinition<'P>) =
    known.Register(definition.Name, Step.decoder definition)

do
    register TrainRelu.definition
    register TrainClip.definition
    register ImportAnn.definition
    register ClipFromRelu.definition
    register FineTuneClip.definition
    register FoldBatchNorm.definition
    register FineTuneQC.definition
    register DistillQC.definition
    register Conversion.definition
    register Evaluate.definition
    register Ablation.definition
    register PhaseTwo.definition
    register FineTuneSnn.definition
    register Qcfs.definition
    register Report.definition

/// The names of the known kinds of step.
let names () = known.Names

/// A step as {"step": name, ...parameters}.
let codec = known.Codec
