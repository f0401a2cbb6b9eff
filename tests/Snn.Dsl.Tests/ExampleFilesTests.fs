/// The experiment files in docs/examples: each is the experiment it says it is (a profile, or the
/// bench experiment with a named change), so the docs cannot drift from the code.
module Snn.Dsl.Tests.ExampleFilesTests

open System.IO
open Expecto
open Snn.Dsl
open Snn.Dsl.Steps
open Snn.Dsl.Pipeline
open Snn.Dsl.Tests.Common

/// docs/examples/<name>.json is the bench experiment with this pipeline, its output folder and
/// profile named after the file.
let private expectBenchExample (name: string) pipeline =
    let path = Path.Combine(repoRoot (), "docs", "examples", $"%s{name}.json")

    Expect.equal
        (Experiment.load path)
        (Ok
            { Profiles.bench with
                Pipeline = pipeline
                OutputFolder = $"runs/%s{name}"
                Profile = Custom name })
        "the example file"

/// The bench pipeline with one fineTuneQC epoch, no ablation, Phase I evaluated at the T it was made
/// for only, and the `fineTunes` steps with their evaluation after Phase II's.
let private fineTuneSnnPipeline fineTunes =
    let steps = Profiles.bench.Pipeline

    steps
    |> List.mapi (fun i s -> i, s)
    |> List.collect (fun (i, s) ->
        let after name = i > 0 && steps[i - 1].Name = name

        match s.Name with
        | "fineTuneQC" -> [ fineTuneQC [ 1; 2; 4 ] 1 ]
        | "ablation" -> []
        | "evaluate" when after "convert" -> [ evaluate [ 1; 2; 4 ] ]
        | "evaluate" when after "phaseTwo" -> s :: fineTunes @ [ evaluate [ 1; 2; 4 ] ]
        | _ -> [ s ])

/// fineTuneSnn for two epochs, Adam's rate decaying from `rate` along a cosine, then `change`d.
let private cosineFineTune rate distill change =
    Step.create
        Pipeline.Steps.FineTuneSnn.definition
        (change
            { Pipeline.Steps.FineTuneSnn.defaults with
                Epochs = 2
                LearningRate = rate
                Schedule = Pipeline.Training.Cosine
                Distill = distill })

/// fineTuneSnn for two epochs, Adam's rate decaying from `rate` along a cosine.
let private twoCosineEpochs rate distill = cosineFineTune rate distill id

[<Tests>]
let tests =
    testList
        "Experiment"
        [ test "docs/examples/imported-fmnist-vgg.json is Profiles.importedQuick's experiment" {
              let path = Path.Combine(repoRoot (), "docs", "examples", "imported-fmnist-vgg.json")

              Expect.equal
                  (Experiment.load path)
                  (Ok(Profiles.importedQuick "models/fmnist-vgg-train.onnx"))
                  "the example file"
          }

          test "docs/examples/bench-distill.json is Profiles.benchDistill's experiment" {
              let path = Path.Combine(repoRoot (), "docs", "examples", "bench-distill.json")
              Expect.equal (Experiment.load path) (Ok Profiles.benchDistill) "the example file"
          }

          test
              "docs/examples/bench-finetune-snn.json is the bench experiment with F = 2 + one fineTuneSnn epoch after Phase II" {
              let pipeline =
                  Profiles.bench.Pipeline
                  |> List.mapi (fun i s -> i, s)
                  |> List.collect (fun (i, s) ->
                      match s.Name with
                      | "fineTuneQC" -> [ fineTuneQC [ 1; 2; 4 ] 2 ]
                      // The evaluation of Phase II's networks, then the SNNs fine-tuned and evaluated.
                      | "evaluate" when i > 0 && Profiles.bench.Pipeline[i - 1].Name = "phaseTwo" ->
                          [ s; fineTuneSnn 1; evaluate [ 1; 2; 4 ] ]
                      | _ -> [ s ])

              expectBenchExample "bench-finetune-snn" pipeline
          }

          test
              "docs/examples/bench-finetune-snn-kd.json is bench with F = 1 + two fineTuneSnn epochs (cosine, distilled from the ReLU ANN), no ablation" {
              let distill: Pipeline.Steps.FineTuneSnn.Teaching =
                  { Teacher = Pipeline.ReluAnn
                    Temperature = 4.0
                    Alpha = 0.5 }

              expectBenchExample "bench-finetune-snn-kd" (fineTuneSnnPipeline [ twoCosineEpochs 3e-4 (Some distill) ])
          }

          test
              "docs/examples/bench-finetune-snn2.json is bench with F = 1 + two fineTuneSnn epochs (Adam, cosine from 1e-3), no ablation" {
              expectBenchExample "bench-finetune-snn2" (fineTuneSnnPipeline [ twoCosineEpochs 1e-3 None ])
          }

          test
              "docs/examples/bench-finetune-snn3.json is bench with F = 1 + two fineTuneSnn epochs (Adam, cosine from 2e-3), no ablation" {
              expectBenchExample "bench-finetune-snn3" (fineTuneSnnPipeline [ twoCosineEpochs 2e-3 None ])
          }

          test
              "docs/examples/bench-finetune-snn-warm.json is bench-finetune-snn3 with T = 2 grown from T = 1 (one epoch at each) before the fine-tunes at T = 1 and 4, and each network scored at T = 1..4" {
              let at ts (p: Pipeline.Steps.FineTuneSnn.Parameters) = { p with TimeSteps = Some ts }

              let grown (p: Pipeline.Steps.FineTuneSnn.Parameters) =
                  { at [ 2 ] p with
                      Epochs = 1
                      WarmStart = Some { TimeSteps = 1; Epochs = 1 } }

              // Then each network scored at T = 1..4, to show how it carries over to the other T.
              let carryOver =
                  Step.create
                      Pipeline.Steps.Evaluate.definition
                      { TimeSteps = [ 1; 2; 3; 4 ]
                        Network = None
                        Anatomy = false
                        MadeFor = Some [ 1; 2; 4 ] }

              expectBenchExample
                  "bench-finetune-snn-warm"
                  (fineTuneSnnPipeline [ cosineFineTune 2e-3 None grown; cosineFineTune 2e-3 None (at [ 1; 4 ]) ]
                   |> List.collect (fun s -> if s.Name = "report" then [ carryOver; s ] else [ s ]))
          }

          test
              "docs/examples/bench-finetune-snn-bn.json is bench-finetune-snn3 with one fine-tune step per T (2, then 1, then 4), batch norm at T = 2 only" {
              let at t normed =
                  cosineFineTune 2e-3 None (fun p ->
                      { p with
                          TimeSteps = Some [ t ]
                          BatchNorm = normed })

              expectBenchExample "bench-finetune-snn-bn" (fineTuneSnnPipeline [ at 2 true; at 1 false; at 4 false ])
          }

          test "docs/examples/resnet34-synthetic-imagenet.json is a valid ResNet-34 experiment on 224x224 image folders" {
              let path =
                  Path.Combine(repoRoot (), "docs", "examples", "resnet34-synthetic-imagenet.json")

              match Experiment.load path with
              | Error es -> failtest $"%A{es}"
              | Ok e ->
                  Expect.equal (Experiment.validate e |> Result.map ignore) (Ok()) "valid before any data is read"
                  Expect.equal e.Data.EvalBatchSize (Some 8) "evaluation batches a ResNet-34 SNN fits in memory"
          } ]
