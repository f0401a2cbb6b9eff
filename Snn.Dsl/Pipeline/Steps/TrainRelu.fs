/// The ReLU ANN baseline (the report's "ANN accuracy"): SGD training of the spec with ReLU.
module Snn.Dsl.Pipeline.Steps.TrainRelu

open Snn.Dsl
open Snn.Dsl.Json
open Snn.Dsl.Pipeline
open Snn.Dsl.Pipeline.Training

type Parameters = { Epochs: int; Optimizer: Sgd }

/// BENCHMARKS.md's recipe for E epochs: SGD momentum 0.9, lr 0.05, weight decay 5e-4, cosine, batch 128.
let defaults = { Epochs = 10; Optimizer = Sgd.paper }

let definition: StepDefinition<Parameters> =
    { Name = "trainRelu"
      Parameters =
        Codec.record (fun e o -> { Epochs = e; Optimizer = o })
        |> Codec.field "epochs" _.Epochs Codec.int
        |> Codec.fieldOr "optimizer" _.Optimizer Sgd.codec Sgd.paper
      Label = fun p -> $"trainRelu (%d{p.Epochs} epochs)"
      Problems = fun p -> AnnTraining.problems p.Epochs p.Optimizer
      Declare =
        fun _ s ->
            { Declare.none with
                Makes = [ Network ReluAnn, AnnTraining.trained s.Spec Relu ]
                Records = true
                Problems = AnnTraining.madeOnce (Network ReluAnn) s }
      Run =
        fun p ctx ->
            let net = AnnTraining.compile ctx 1 Relu ctx.Spec

            let record =
                AnnTraining.train ctx ReluAnn "relu" net p.Optimizer p.Epochs (ctx.Seed + 1)

            ctx.Log $"ReLU ANN: test accuracy %.2f{record.TestAccuracy}%%"
            ctx.Put(Network ReluAnn, AnnValue net, [ AnnTrained record ]) }

/// Trains the ReLU ANN for this many epochs with the paper's recipe.
let step epochs =
    Step.create definition { defaults with Epochs = epochs }
