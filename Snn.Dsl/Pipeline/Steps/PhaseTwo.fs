/// Phase II (PAPER.md): every spiking network calibrated for its T, layer by layer — for
/// l = 1..n in order, each layer step on layer l (the paper: a. potential calibration, b. weight
/// calibration, c. potential calibration again), with every earlier layer already calibrated.
module Snn.Dsl.Pipeline.Steps.PhaseTwo

open System.Diagnostics
open Snn.Dsl.Json
open Snn.Dsl.Pipeline

type Parameters =
    {
        /// The layer steps run on each layer, in order.
        Steps: ILayerStep list
    }

/// PAPER.md's a, b, c: potential, weight and potential calibration on 1,024 held-out images.
let defaults =
    { Steps =
        [ CalibratePotential.step 1024
          CalibrateWeights.step
          CalibratePotential.step 1024 ] }

let private operations (p: Parameters) = p.Steps |> List.map _.Operation

let definition: StepDefinition<Parameters> =
    { Name = "phaseTwo"
      Parameters = LayerSteps.list (fun s -> { Steps = s }) _.Steps
      Label = fun p -> LayerSteps.label "phaseTwo" p.Steps
      Problems = fun p -> LayerStep.problems p.Steps
      Declare =
        fun p s ->
            SpikingRuns.declareLayerSteps "phaseTwo" p.Steps s (fun nets ->
                [ for t, i in nets ->
                      Spiking t,
                      SpikingDescriptor
                          { i with
                              Lineage = i.Lineage @ [ PhaseTwoPass(operations p) ] } ])
      Run =
        fun p ctx ->
            for t in SpikingRuns.timeSteps ctx do
                let snn = ctx.Spiking t
                let lines = ResizeArray<string>()
                let clock = Stopwatch.StartNew()

                SpikingRuns.layerContext ctx t snn (fun m ->
                    lines.Add m
                    ctx.Log m)
                |> LayerStep.calibrate p.Steps

                let seconds = clock.Elapsed.TotalSeconds
                ctx.Log $"T={t}: Phase II ({SpikingRuns.label [ PhaseTwoPass(operations p) ]}) in %.0f{seconds} s"

                let record =
                    { T = t
                      Operations = operations p
                      CalibrationImages = p.Steps |> List.map _.CalibrationImages |> List.max
                      EarlyStoppingImages = p.Steps |> List.map _.EarlyStoppingImages |> List.max
                      Seconds = seconds
                      Log = lines.ToArray() }

                ctx.Put(Spiking t, SpikingValue snn, [ PhaseTwoDone record ]) }

/// Phase II with these layer steps.
let step (steps: ILayerStep list) =
    Step.create definition { Steps = steps }
