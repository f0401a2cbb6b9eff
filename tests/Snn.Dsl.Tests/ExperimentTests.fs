module Snn.Dsl.Tests.ExperimentTests

open System.IO
open Expecto
open FsCheck
open FsCheck.FSharp
open Snn.Dsl
open Snn.Dsl.Steps
open Snn.Dsl.Tests.Common

let private presets =
    [ FmnistVgg
      Vgg16 10
      Vgg16 100
      ResNet20 10
      ResNet18(Cifar, 10)
      ResNet18(ImageNet MaxStemPool, 1000)
      ResNet34(ImageNet AvgStemPool, 1000) ]

let private profiles = Profiles.named |> List.map snd

[<Tests>]
let tests =
    testList
        "Experiment"
        [ test "every preset under every profile round-trips through JSON exactly" {
              for profile in profiles do
                  for preset in presets do
                      let e =
                          { profile with
                              Network = PresetNetwork preset }

                      Expect.equal
                          (Experiment.fromJson (Experiment.toJson e))
                          (Ok e)
                          $"%A{preset} / %A{profile.Profile}"
          }

          test "a custom network round-trips through JSON exactly" {
              let e =
                  { Profiles.quick with
                      Network = CustomNetwork(Presets.resnet18 (ImageNet AvgStemPool) 1000) }

              Expect.equal (Experiment.fromJson (Experiment.toJson e)) (Ok e) "resnet18 as layers"
          }

          testPropertyWithConfig
              { FsCheckConfig.defaultConfig with
                  maxTest = 300 }
              "any experiment round-trips through JSON exactly"
          <| Prop.forAll (Arb.fromGen Generators.experiment) (fun e -> Experiment.fromJson (Experiment.toJson e) = Ok e)

          test "the JSON reads like the DSL: step and layer kinds by name" {
              let json =
                  Experiment.toJson
                      { Profiles.bench with
                          Network = CustomNetwork Presets.fmnistVgg }

              for fragment in
                  [ "\"step\": \"trainClip\""
                    "\"step\": \"phaseTwo\""
                    "\"step\": \"calibrateWeights\""
                    "\"kind\": \"conv\""
                    "\"in_features\": 1152"
                    "\"profile\": \"bench\""
                    "\"dataset\": \"fashion-mnist\"" ] do
                  Expect.stringContains json fragment "fragment"
          }

          test "decoding reports every error at once, each with its JSON path and what was expected" {
              let json = Experiment.toJson Profiles.quick

              let broken =
                  json
                      .Replace("\"step\": \"foldBatchNorm\"", "\"step\": \"foldBN\"")
                      .Replace("\"seed\": 0,", "")
                      .Replace("\"epochs\": 2,", "\"epochs\": \"two\",")
                      .Replace("\"noise_probability\"", "\"noise_probabilty\"")

              Expect.equal
                  (Experiment.fromJson broken)
                  (Error
                      [ "experiment.pipeline[0].epochs: expected an integer, got \"two\""
                        "experiment.pipeline[1].epochs: expected an integer, got \"two\""
                        "experiment.pipeline[2].step: expected one of \"ablation\", \"convert\", \"evaluate\", \"fineTuneQC\", \"fineTuneSnn\", \"foldBatchNorm\", \"phaseTwo\", \"qcfs\", \"report\", \"trainClip\", \"trainRelu\", got \"foldBN\" (did you mean \"foldBatchNorm\"?)"
                        "experiment.pipeline[4].noise_probabilty: unknown key (did you mean \"noise_probability\"?); expected one of \"step\", \"time_steps\", \"epochs\", \"optimizer\", \"noise_probability\", \"fit_thresholds\""
                        "experiment.pipeline[10].epochs: expected an integer, got \"two\"" ])
                  "every error, in document order"

              Expect.isError (Experiment.fromJson "{ not json") "not JSON"
          }

          test "a missing optional key takes its default; a number too large for a double is refused" {
              let minimal =
                  """{ "name": "m", "data": { "dataset": "mnist" }, "network": { "preset": { "name": "fmnist-vgg" } },
                       "pipeline": [ { "step": "trainClip", "epochs": 3 }, { "step": "trainRelu", "epochs": 1, "optimizer": { "learning_rate": 1e400, "momentum": 0.9, "weight_decay": 0 } } ] }"""

              match Experiment.fromJson minimal with
              | Ok _ -> failtest "1e400 is not a finite learning rate"
              | Error es ->
                  Expect.equal
                      es
                      [ "experiment.pipeline[1].optimizer.learning_rate: expected a finite number, got 1e400" ]
                      "the overflowing number"

              let ok = minimal.Replace("1e400", "0.1")

              match Experiment.fromJson ok with
              | Error es -> failtestf "%A" es
              | Ok e ->
                  Expect.equal e.Seed 0 "seed defaults to 0"
                  Expect.equal e.Data.HeldOut None "held-out defaults to the dataset's rule"
                  Expect.equal e.Pipeline[0] (trainClip 3) "trainClip 3 with the paper's recipe"
          }

          test "save and load round-trip a file; a missing file is named in the error" {
              let path =
                  Path.Combine(Path.GetTempPath(), $"experiment-%s{System.Guid.NewGuid().ToString()}.json")

              try
                  Experiment.save path Profiles.paper
                  Expect.equal (Experiment.load path) (Ok Profiles.paper) "round trip"
              finally
                  File.Delete path

              Expect.equal
                  (Experiment.load path)
                  (Error [ $"%s{path}: file not found (expected an experiment JSON file)" ])
                  "missing file"
          }

          test "validation collects network, data and seed errors together" {
              let e =
                  { Profiles.quick with
                      Network = CustomNetwork(input (1, 28, 28) --> conv 8 --> linear 10)
                      Seed = -1
                      Data =
                          { Profiles.quick.Data with
                              TestImages = Some 0 } }

              match Experiment.validate e with
              | Ok _ -> failtest "expected errors"
              | Error es ->
                  Expect.equal
                      es
                      [ "layer 1 (linear 10): expected a vector, got a feature map 8x28x28: insert flatten before linear"
                        "data.test_images = 0 is out of range: expected >= 1 (or null for the default)"
                        "seed = -1 is out of range: expected >= 0" ]
                      "three sources"
          } ]
