/// Phase I step 1 (PAPER.md): training with the learnable clip activation y = clip(x, 0, |theta_l|).
module Snn.Dsl.Pipeline.Steps.TrainClip

open Snn.Dsl
open Snn.Dsl.Json
open Snn.Dsl.Pipeline
open Snn.Dsl.Pipeline.Training

type Parameters =
    {
        Epochs: int
        Optimizer: Sgd
        /// theta_l at initialisation (PAPER.md: 5.0).
        InitialThreshold: float
    }

let defaults =
    { Epochs = 10
      Optimizer = Sgd.paper
      InitialThreshold = 5.0 }

let definition: StepDefinition<Parameters> =
    { Name = "trainClip"
      Parameters =
        Codec.record (fun e o t ->
            { Epochs = e
              Optimizer = o
              InitialThreshold = t })
        |> Codec.field "epochs" _.Epochs Codec.int
        |> Codec.fieldOr "optimizer" _.Optimizer Sgd.codec Sgd.paper
        |> Codec.fieldOr "initial_threshold" _.InitialThreshold Codec.float 5.0
      Label = fun p -> $"trainClip (%d{p.Epochs} epochs, theta0 = %g{p.InitialThreshold})"
      Problems =
        fun p ->
            AnnTraining.problems p.Epochs p.Optimizer
            @ Declare.positive "initial_threshold" p.InitialThreshold
      Declare =
        fun p s ->
            { Declare.none with
                Makes = [ Network ClipAnn, AnnTraining.trained s.Spec (Clip p.InitialThreshold) ]
                Records = true
                Problems = AnnTraining.madeOnce (Network ClipAnn) s }
      Run =
        fun p ctx ->
            let net = AnnTraining.compile ctx 2 (Clip p.InitialThreshold) ctx.Spec

            let record =
                AnnTraining.train ctx ClipAnn "clip" net p.Optimizer p.Epochs (ctx.Seed + 2)

            ctx.Log $"Phase I clip ANN: test accuracy %.2f{record.TestAccuracy}%%"
            ctx.Put(Network ClipAnn, AnnValue net, [ AnnTrained record ]) }

/// Trains the clip ANN for this many epochs with the paper's recipe and theta0 = 5.
let step epochs =
    Step.create definition { defaults with Epochs = epochs }
