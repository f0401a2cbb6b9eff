module Snn.Dsl.Tests.ExperimentTests

open System.IO
open Expecto
open FsCheck
open FsCheck.FSharp
open Snn.Dsl
open Snn.Dsl.Steps
open Snn.Dsl.Pipeline
open Snn.Dsl.Tests.Common
open Snn.Dsl.Tests.Pipeline.ImportedPipelines

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
                        "experiment.pipeline[2].step: expected one of \"ablation\", \"clipFromRelu\", \"convert\", \"distillQC\", \"evaluate\", \"fineTuneClip\", \"fineTuneQC\", \"fineTuneSnn\", \"foldBatchNorm\", \"importAnn\", \"phaseTwo\", \"qcfs\", \"report\", \"trainClip\", \"trainRelu\", got \"foldBN\" (did you mean \"foldBatchNorm\"?)"
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
                  Expect.equal (Data.evalBatchSize e.Data) 256 "evaluation batches of 256 by default"
                  Expect.equal e.Pipeline[0] (trainClip 3) "trainClip 3 with the paper's recipe"
          }

          test "an evaluation batch size outside [1, 65536] is refused, naming the setting" {
              for n in [ 0; 65537 ] do
                  match
                      Experiment.validate
                          { Profiles.tiny with
                              Data =
                                  { Profiles.tiny.Data with
                                      EvalBatchSize = Some n } }
                  with
                  | Ok _ -> failtestf "eval_batch_size = %d accepted" n
                  | Error es ->
                      Expect.contains
                          es
                          $"data.eval_batch_size = {n} is out of range: expected [1, 65536] (or null for 256)"
                          "names it"
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

          test "seeds: left out, the JSON is as before; given without seed, the first of them is the seed" {
              let json = Experiment.toJson Profiles.bench
              Expect.isFalse (json.Contains "\"seeds\"") "no seeds key for a one-seed experiment"

              let series = json.Replace("\"seed\": 0,", "\"seeds\": [4, 1, 2],")

              match Experiment.fromJson series with
              | Error es -> failtestf "%A" es
              | Ok e ->
                  Expect.equal (e.Seed, e.Seeds) (4, [ 4; 1; 2 ]) "the first of the seeds is the seed"
                  Expect.isOk (Experiment.validate e) "valid"
                  Expect.equal (Experiment.fromJson (Experiment.toJson e)) (Ok e) "round trip"

              Expect.equal
                  (Experiment.withSeeds [ 3; 5 ] Profiles.bench |> fun e -> e.Seed, e.Seeds)
                  (3, [ 3; 5 ])
                  "withSeeds"
          }

          test "seeds are validated: each >= 0, none repeated, and an explicit seed among them" {
              let e =
                  { Profiles.quick with
                      Seed = 9
                      Seeds = [ 0; -1; 0 ] }

              Expect.equal
                  (Experiment.validate e)
                  (Error
                      [ "seeds[1] = -1 is out of range: expected >= 0"
                        "seeds = [0, -1, 0]: seed 0 is repeated (each seed is one run)"
                        "seed = 9 is not among seeds = [0, -1, 0]: with seeds the experiment runs once per seed (in seed-<k> folders); leave seed out or list it in seeds" ])
                  "every problem"

              let json =
                  (Experiment.toJson Profiles.quick).Replace("\"seed\": 0,", "\"seed\": 9, \"seeds\": [1, 2],")

              match Experiment.fromJson json |> Result.bind (Experiment.validate) with
              | Ok _ -> failtest "a seed outside seeds is refused"
              | Error es -> Expect.stringContains (List.exactlyOne es) "seed = 9 is not among seeds = [1, 2]" "named"
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
          }

          test "the device round-trips through JSON, defaults to cpu, and a name that is no device is refused" {
              for device in [ "cpu"; "cuda"; "cuda:1" ] do
                  let e = { Profiles.tiny with Device = device }
                  Expect.equal (Experiment.fromJson (Experiment.toJson e)) (Ok e) device
                  Expect.stringContains (Experiment.toJson e) $"\"device\": \"{device}\"" "written as \"device\""

              let withoutDevice =
                  Experiment.toNode Profiles.tiny :?> System.Text.Json.Nodes.JsonObject

              withoutDevice.Remove "device" |> ignore

              match Experiment.fromJson (withoutDevice.ToJsonString()) with
              | Ok e -> Expect.equal e.Device "cpu" "the default"
              | Error es -> failtestf "%A" es

              match Experiment.validate { Profiles.tiny with Device = "gpu0" } with
              | Ok _ -> failtest "gpu0 is not a device"
              | Error es ->
                  Expect.equal es.Length 1 "one problem"
                  Expect.stringStarts es.Head "device: " "names the setting"
                  Expect.stringContains es.Head "gpu0" "names the value"
          }

          test "an imported network is {\"onnx\": file} with an optional replace_max_pool; both round-trip" {
              for source in
                  [ { File = "models/m.onnx"
                      ReplaceMaxPool = false }
                    { File = "m.onnx"
                      ReplaceMaxPool = true } ] do
                  let e =
                      { Profiles.quick with
                          Network = OnnxNetwork source }

                  Expect.equal (Experiment.fromJson (Experiment.toJson e)) (Ok e) $"%A{source}"

              let json =
                  Experiment.toJson
                      { Profiles.quick with
                          Network = onnx "m.onnx" }

              Expect.stringContains json "\"onnx\": \"m.onnx\"" "the file"

              let wrong =
                  json.Replace("\"onnx\": \"m.onnx\"", "\"onnx\": \"m.onnx\", \"replace_maxpool\": true")

              Expect.equal
                  (Experiment.fromJson wrong)
                  (Error
                      [ "experiment.network.replace_maxpool: unknown key (did you mean \"replace_max_pool\"?); expected one of \"onnx\", \"replace_max_pool\"" ])
                  "a misspelt option"
          }

          test
              "an imported network's spec comes from the model; its problems are reported naming the file, with the others" {
              let file = fashionFile 12 None

              let e =
                  { Profiles.quick with
                      Network = onnx file
                      Pipeline = importedDualPhase 1 1 [ 1; 2 ]
                      Seed = -1 }

              Expect.equal (Experiment.spec e) (imported file).Model.Spec "the model's spec"

              Expect.equal
                  (Experiment.validate e)
                  (Error [ "seed = -1 is out of range: expected >= 0" ])
                  "the network and the imported pipeline are valid"

              let missing =
                  { e with
                      Network = onnx "no/such/model.onnx" }

              Expect.equal
                  (Experiment.validate missing)
                  (Error
                      [ "network: no/such/model.onnx: file not found (expected an ONNX model file)"
                        "seed = -1 is out of range: expected >= 0" ])
                  "a missing model"

              Expect.throwsT<System.ArgumentException> (fun () -> Experiment.spec missing |> ignore) "spec throws"

              let onPreset =
                  { e with
                      Network = PresetNetwork FmnistVgg
                      Pipeline = [ importAnn; clipFromRelu 99.9 ]
                      Seed = 0 }

              Expect.equal
                  (Experiment.validate onPreset)
                  (Error
                      [ "step 0 (importAnn): needs a network imported from ONNX: set the experiment's network to {\"onnx\": \"model.onnx\"}"
                        "step 1 (clipFromRelu): needs the ReLU ANN, which no earlier step makes" ])
                  "importAnn on a preset"

              System.IO.File.Delete file
          } ]
