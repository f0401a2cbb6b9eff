/// Fault injection on the built `snn`, input side: decompression bombs in the dataset files and
/// experiments that cannot run. Each case asserts the `snn:` message, the documented exit code,
/// no stack trace, and that nothing was computed. The lists join FaultTests' sequenced list, so
/// they never run beside the other fault cases.
module Snn.Cli.Tests.InputFaultTests

open System
open System.IO
open System.IO.Compression
open System.Text.Json.Nodes
open Expecto
open Snn.Dsl
open Snn.Dsl.Pipeline
open Snn.Cli
open Snn.Cli.Tests.Common
open Snn.Cli.Tests.FaultFixture

let private gzip (bytes: byte[]) (zeros: int64) =
    use output = new MemoryStream()

    do
        use z = new GZipStream(output, CompressionLevel.Fastest, true)
        z.Write(bytes, 0, bytes.Length)
        let block = Array.zeroCreate<byte> (1 <<< 20)
        let mutable left = zeros

        while left > 0L do
            let n = int (min left block.LongLength)
            z.Write(block, 0, n)
            left <- left - int64 n

    output.ToArray()

let private bigEndian (v: int) =
    [| byte (v >>> 24); byte (v >>> 16); byte (v >>> 8); byte v |]

let private imagesHeader (n: int) =
    Array.concat [ bigEndian 0x803; bigEndian n; bigEndian 28; bigEndian 28 ]

/// A dataset folder whose training images file is replaced by `write`.
let private dataWith (tmp: TempFolder) (write: string -> unit) =
    let data = tmp.File "data"
    Directory.CreateDirectory data |> ignore
    writeIdx data true 600 100
    write (Path.Combine(data, "train-images-idx3-ubyte.gz"))
    data, Path.Combine(data, "train-images-idx3-ubyte.gz")

let bombs =
    testList
        "decompression bombs"
        [ for what, write, says in
              [ "a gzip file whose IDX header declares 2^31-1 images",
                (fun (f: string) ->
                    File.WriteAllBytes(f, gzip (imagesHeader Int32.MaxValue) (1L <<< 20))
                    // Labels declaring as many, so that the image count itself is what is refused.
                    let labels = Path.Combine(Path.GetDirectoryName f, "train-labels-idx1-ubyte.gz")

                    File.WriteAllBytes(
                        labels,
                        gzip (Array.append (bigEndian 0x801) (bigEndian Int32.MaxValue)) (1L <<< 20)
                    )),
                "SNN_DATA_MEMORY"
                "a gzip file of zeros far beyond the images its header declares",
                (fun f -> File.WriteAllBytes(f, gzip (imagesHeader 600) (256L <<< 20))),
                "too long"
                "a link to /dev/zero",
                (fun f ->
                    File.Delete f
                    File.CreateSymbolicLink(f, "/dev/zero") |> ignore),
                "/dev/zero" ] ->
              testCase $"{what} is refused naming the file (exit 3), before its bytes fill the memory"
              <| fun () ->
                  use tmp = new TempFolder()
                  let data, _ = dataWith tmp write
                  let out = tmp.File "run"
                  let config = writeConfig tmp.Path ((experimentNode 1).ToJsonString())
                  let r = runSnn (runArgs config data out)
                  expectRefused ExitCode.Data [ data; says ] r |> ignore
                  Expect.isFalse (r.Stdout.Contains "epoch 1/") $"refused before training\n{r.Show}" ]

/// An experiment changed by `edit` (of its JSON node or text) is refused with exit 2 before any
/// compute, the message holding every fragment; a finished run given as --out is kept.
let private refusedCase (what: string) (json: string) (fragments: string list) =
    testCase $"{what} is refused before compute naming the problem"
    <| fun () ->
        use tmp = new TempFolder()
        let out = copyOfFinished tmp
        let before = snapshot out
        let r = runSnn (runArgs (writeConfig tmp.Path json) dataFolder.Value out)
        expectRefused ExitCode.Usage fragments r |> ignore
        expectNoCompute r
        expectKept before [] out

let private withSpec (layers: Layer list) =
    (Experiment.toNode
        { experiment 1 with
            Network = CustomNetwork(network (Image(1, 28, 28)) layers) })
        .ToJsonString()

/// The first step of an experiment's pipeline (trainRelu).
let private firstStep (n: JsonNode) = n["pipeline"].AsArray().[0]

let private edited (edit: JsonNode -> unit) =
    let node = experimentNode 1
    edit node
    node.ToJsonString()

let invalidExperiments =
    testList
        "refused before compute"
        [ refusedCase
              "a max-pooling network"
              (withSpec [ conv 4; act; maxPool 2; conv 4; act; avgPool 2; flatten; linear 10 ])
              [ "max" ]
          refusedCase
              "a network without activations"
              (withSpec [ conv 4; avgPool 2; flatten; linear 10 ])
              [ "activation" ]
          refusedCase
              "a 5-class network on 10-class data"
              (withSpec [ conv 4; act; avgPool 2; flatten; linear 5 ])
              [ "5 outputs"; "10 classes" ]
          refusedCase "epochs -1" (edited (fun n -> (firstStep n)["epochs"] <- JsonValue.Create -1)) [ "epochs = -1" ]
          refusedCase
              "epochs 2^31-1"
              (edited (fun n -> (firstStep n)["epochs"] <- JsonValue.Create Int32.MaxValue))
              [ "epochs = 2147483647" ]
          refusedCase
              "a learning rate of 1e400"
              ((edited (fun n ->
                  (firstStep n)["optimizer"] <-
                      JsonNode.Parse """{"learning_rate": 0.123456, "momentum": 0.9, "weight_decay": 0.0005}"""))
                  .Replace("0.123456", "1e400"))
              [ "learning_rate" ]
          refusedCase
              "an unknown JSON key"
              (edited (fun n -> n.AsObject()["seeed"] <- JsonValue.Create 1))
              [ "seeed"; "seed" ]
          refusedCase
              "several type errors"
              (edited (fun n ->
                  n.AsObject()["seed"] <- JsonValue.Create "zero"
                  (firstStep n)["epochs"] <- JsonValue.Create "one"
                  n["data"].["train_images"] <- JsonValue.Create true))
              [ "seed"; "epochs"; "train_images" ] ]
