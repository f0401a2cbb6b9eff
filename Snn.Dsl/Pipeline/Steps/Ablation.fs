/// The Phase II ablation (PAPER.md: "report accuracy after each stage"): for every spiking
/// network, each prefix of a list of layer steps run layer by layer on a copy, and the copy
/// evaluated at its T. The network itself is not changed; a following phaseTwo runs the method.
module Snn.Dsl.Pipeline.Steps.Ablation

open Snn.Dsl.Json
open Snn.Dsl.Pipeline

type Parameters =
    {
        /// Prefixes of this list are evaluated: [a], [a, b], ...
        Steps: ILayerStep list
    }

/// The paper's ablation: + potential calibration, + weight calibration.
let defaults = { Steps = [ CalibratePotential.step 1024; CalibrateWeights.step ] }

let definition: StepDefinition<Parameters> =
    { Name = "ablation"
      Parameters = LayerSteps.list (fun s -> { Steps = s }) _.Steps
      Label = fun p -> LayerSteps.label "ablation" p.Steps
      Problems = fun p -> LayerStep.problems p.Steps
      Declare = fun p s -> SpikingRuns.declareLayerSteps "ablation" p.Steps s (fun _ -> [])
      Run =
        fun p ctx ->
            for t in SpikingRuns.timeSteps ctx do
                let info = SpikingRuns.info ctx t

                for k in 1 .. p.Steps.Length do
                    let steps = List.take k p.Steps
                    use copy = (ctx.Spiking t).Clone()
                    SpikingRuns.layerContext ctx t copy ctx.Log |> LayerStep.calibrate steps
                    let lineage = info.Lineage @ [ PhaseTwoPass(steps |> List.map _.Operation) ]

                    let rows =
                        SpikingRuns.evaluate
                            ctx
                            copy
                            [ t ]
                            info.Source
                            info.SourceInfo.Spec
                            (Some t)
                            lineage
                            false
                            true
                            $"T={t}: + {SpikingRuns.label lineage}"

                    for r in rows do
                        ctx.Log $"T={t}: {SpikingRuns.label lineage}: %.2f{r.Accuracy}%%"
                        ctx.Record(SnnEvaluated r) }

/// The ablation of these layer steps' prefixes.
let step (steps: ILayerStep list) =
    Step.create definition { Steps = steps }
