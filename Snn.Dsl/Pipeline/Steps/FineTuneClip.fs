/// An optional Phase I step for a clip ANN that was not trained as one (clipFromRelu makes it from
/// a trained or imported ReLU ANN): training continued with the learnable clip activations from
/// its weights and thresholds, so that the weights adapt to the clipping and each theta_l to the
/// data (PAPER.md's clip training, started from the ReLU ANN instead of from initial weights).
module Snn.Dsl.Pipeline.Steps.FineTuneClip

open TorchSharp
open Snn.Dsl
open Snn.Dsl.Json
open Snn.Dsl.Pipeline
open Snn.Dsl.Pipeline.Training

type Parameters = { Epochs: int; Optimizer: Sgd }

/// One epoch of SGD with momentum 0.9, lr 1e-3, no weight decay, cosine, batch 128 (the QC
/// fine-tune's recipe: the network is trained already).
let defaults =
    { Epochs = 1
      Optimizer =
        { Sgd.paper with
            LearningRate = 1e-3
            WeightDecay = 0.0 } }

/// Seeds of this step's initial state and data order (other steps use 1, 2, 3 and 10 + L).
[<Literal>]
let private Stream = 4

let private run (p: Parameters) (ctx: StepContext) =
    let source = ctx.Ann ClipAnn
    // Seeded like the other training steps (dropout masks), then every weight and threshold copied.
    let net = AnnTraining.compile ctx Stream source.Activation source.Info.Spec
    Compile.copyMatching source net |> ignore

    let record =
        AnnTraining.train ctx ClipAnn "clip-finetune" net p.Optimizer p.Epochs (ctx.Seed + Stream)

    ctx.Log $"Phase I clip ANN fine-tuned: test accuracy %.2f{record.TestAccuracy}%%"
    ctx.Put(Network ClipAnn, AnnValue net, [ AnnTrained record ])

let definition: StepDefinition<Parameters> =
    { Name = "fineTuneClip"
      Parameters =
        Codec.record (fun e o -> { Epochs = e; Optimizer = o })
        |> Codec.field "epochs" _.Epochs Codec.int
        |> Codec.fieldOr "optimizer" _.Optimizer Sgd.codec defaults.Optimizer
      Label = fun p -> $"fineTuneClip (%d{p.Epochs} epochs, lr %g{p.Optimizer.LearningRate})"
      Problems = fun p -> AnnTraining.problems p.Epochs p.Optimizer
      Declare =
        fun _ s ->
            match Declare.ann ClipAnn s with
            | Error e -> Declare.fromProblems [ e ]
            | Ok clip ->
                { Declare.none with
                    Needs = [ Network ClipAnn ]
                    Makes = [ Network ClipAnn, AnnDescriptor clip ]
                    Records = true }
      Run = run }

/// Continues training the clip ANN for this many epochs (lr 1e-3, no weight decay).
let step epochs =
    Step.create definition { defaults with Epochs = epochs }
