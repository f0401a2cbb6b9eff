/// `snn` as a user runs it: the built snn.dll in a child process, its exit code, stdout and
/// stderr (Program.fs: the command line, `snn data`, the error boundary around every command).
module Snn.Cli.Tests.ProgramTests

open System.IO
open Expecto
open Snn.Cli
open Snn.Cli.Tests.Common

/// Expects a failure with `code` whose last stderr line is the `snn:` message, without a stack trace.
let private expectFailure (code: int) (r: SnnResult) =
    Expect.equal r.ExitCode code $"exit code\n{r.Show}"
    Expect.stringStarts r.LastErrorLine "snn: " $"ends with one snn: message\n{r.Show}"
    Expect.isFalse (hasStackTrace r.Stderr) $"no stack trace without --verbose\n{r.Show}"
    Expect.isFalse (hasStackTrace r.Stdout) $"no stack trace on stdout\n{r.Show}"

/// The cells of the table rows of Spectre.Console's output that start with `first`.
let private rowsStarting (first: string) (stdout: string) =
    stdout.Split('\n')
    |> Array.map (fun l -> l.Split([| '│'; '|' |]) |> Array.map _.Trim() |> Array.filter ((<>) ""))
    |> Array.filter (fun cells -> cells.Length > 1 && cells[0] = first)

/// The class table's row of label k: class name, training files, train, held-out, test.
let private classRow (stdout: string) (k: int) =
    match rowsStarting (string k) stdout with
    | [| row |] -> row[1..]
    | rows -> failtestf "expected one class-table row for label %d, found %d in\n%s" k rows.Length stdout

/// The splits table's row: images, image shape, pixel mean.
let private splitRow (stdout: string) (split: string) =
    match rowsStarting split stdout with
    | [| row |] -> row[1..3]
    | rows -> failtestf "expected one row for split %s, found %d in\n%s" split rows.Length stdout

let private fashionClasses =
    [ "T-shirt/top"
      "Trouser"
      "Pullover"
      "Dress"
      "Coat"
      "Sandal"
      "Shirt"
      "Sneaker"
      "Bag"
      "Ankle boot" ]

[<Tests>]
let tests =
    testSequenced
    <| testList
        "Program"
        [ testList
              "argument errors"
              [ testCase "an unknown subcommand exits 2 with the usage and one snn: line naming it"
                <| fun () ->
                    let r = runSnn [ "frob" ]
                    expectFailure ExitCode.Usage r
                    Expect.equal r.LastErrorLine "snn: unrecognized argument: 'frob'." "names the argument"
                    Expect.stringContains r.Stderr "USAGE: snn" "usage shown"
                    Expect.equal r.Stdout "" "nothing on stdout"

                testCase "no subcommand exits 2"
                <| fun () ->
                    let r = runSnn []
                    expectFailure ExitCode.Usage r
                    Expect.stringContains r.LastErrorLine "subcommand" "says what is missing"

                testCase "an unknown option of snn data exits 2 naming it, with snn data's usage"
                <| fun () ->
                    let r = runSnn [ "data"; "--frob" ]
                    expectFailure ExitCode.Usage r
                    Expect.equal r.LastErrorLine "snn: unrecognized argument: '--frob'." "names the option"
                    Expect.stringContains r.Stderr "USAGE: snn data" "snn data's usage"

                testCase "a value of the wrong type exits 2 naming the option"
                <| fun () ->
                    let r = runSnn [ "data"; "--held-out"; "many" ]
                    expectFailure ExitCode.Usage r
                    Expect.stringContains r.LastErrorLine "--held-out" "names the option"

                testCase "an unknown --dataset for snn data exits 2 listing the known ones"
                <| fun () ->
                    let r = runSnn [ "data"; "--dataset"; "imagenet21k" ]
                    expectFailure ExitCode.Usage r
                    Expect.stringContains r.LastErrorLine "--dataset = imagenet21k" "names the argument"
                    Expect.stringContains r.LastErrorLine "fashion-mnist, mnist" "lists the known names"

                testCase "--image-size with an IDX dataset exits 2 rather than being ignored"
                <| fun () ->
                    let r = runSnn [ "data"; "--dataset"; "mnist"; "--image-size"; "64" ]
                    expectFailure ExitCode.Usage r
                    Expect.stringContains r.LastErrorLine "--image-size" "names the option"

                testCase "a missing --config file exits 2 naming the file"
                <| fun () ->
                    use tmp = new TempFolder()
                    let missing = tmp.File "no-such-experiment.json"
                    let r = runSnn [ "run"; "--config"; missing ]
                    expectFailure ExitCode.Usage r
                    Expect.stringContains r.LastErrorLine missing "names the file"
                    Expect.stringContains r.LastErrorLine "not found" "says what is wrong"

                testCase "run --device cuda without a CUDA build exits 2 at once, naming the package a GPU needs"
                <| fun () ->
                    use tmp = new TempFolder()
                    let out = tmp.File "run"
                    let r = runSnn [ "run"; "--profile"; "tiny"; "--device"; "cuda"; "--out"; out ]
                    expectFailure ExitCode.Usage r
                    Expect.stringContains r.LastErrorLine "--device" "names the option"
                    Expect.stringContains r.LastErrorLine "TorchSharp-cuda" "names the package"
                    Expect.isFalse (System.IO.Directory.Exists out) "nothing was started"

                testCase
                    "an experiment's \"device\": \"cuda:1\" without a CUDA build exits 2 at once, naming the setting and the package"
                <| fun () ->
                    use tmp = new TempFolder()
                    let out = tmp.File "run"
                    let config = tmp.File "gpu.json"

                    File.WriteAllText(
                        config,
                        Snn.Dsl.Experiment.toJson
                            { Snn.Dsl.Profiles.tiny with
                                Device = "cuda:1"
                                OutputFolder = out }
                    )

                    let r = runSnn [ "run"; "--config"; config ]
                    expectFailure ExitCode.Usage r
                    Expect.stringContains r.LastErrorLine "device = cuda:1" "names the setting and its value"
                    Expect.stringContains r.LastErrorLine "TorchSharp-cuda-linux" "names the package"
                    Expect.stringContains r.LastErrorLine "libtorch-cuda" "names the native library it brings"
                    Expect.isFalse (Directory.Exists out) "nothing was started"

                testCase "run --shard outside 1..n exits 2 naming the option"
                <| fun () ->
                    let r = runSnn [ "run"; "--profile"; "tiny"; "--shard"; "3/2" ]
                    expectFailure ExitCode.Usage r
                    Expect.stringContains r.LastErrorLine "--shard 3/2" "names the option and value"

                testCase "merge of a folder that is no shard exits 4 naming partial.json"
                <| fun () ->
                    use tmp = new TempFolder()
                    let r = runSnn [ "merge"; tmp.Path; "--out"; tmp.File "merged" ]
                    expectFailure ExitCode.InputOutput r
                    Expect.stringContains r.LastErrorLine "partial.json" "names the file"

                testCase "bench's repetitions out of range exit 2 naming the option"
                <| fun () ->
                    let r = runSnn [ "bench"; "--repeats"; "0" ]
                    expectFailure ExitCode.Usage r
                    Expect.stringContains r.LastErrorLine "--repeats = 0" "names the option"

                testCase "--help exits 0 with the usage and the exit codes on stdout"
                <| fun () ->
                    for args in [ [ "--help" ]; [ "data"; "--help" ] ] do
                        let r = runSnn args
                        Expect.equal r.ExitCode ExitCode.Success r.Show
                        Expect.stringContains r.Stdout "USAGE: snn" "usage"
                        Expect.stringContains r.Stdout "EXIT CODES:" "exit codes"
                        Expect.stringContains r.Stdout "130  interrupted" "every code"
                        Expect.equal r.Stderr "" "nothing on stderr" ]

          testList
              "snn data"
              [ for gz in [ false; true ] do
                    testCase
                        $"""prints the counts, classes and pixel mean of a small {if gz then "gzipped" else "plain"} IDX set"""
                    <| fun () ->
                        use tmp = new TempFolder()
                        writeIdx tmp.Path gz 30 10
                        let r = runSnn [ "data"; "--data"; tmp.Path; "--held-out"; "10" ]
                        Expect.equal r.ExitCode ExitCode.Success r.Show
                        Expect.stringContains r.Stdout tmp.Path "names the folder"
                        // Pixels of label k are 20 k: the mean over labels 0..9 is 90 / 255.
                        let mean = (90.0 / 255.0).ToString "0.0000"

                        for split, n in [ "training files", 30; "train", 20; "held-out", 10; "test", 10 ] do
                            Expect.equal
                                (splitRow r.Stdout split)
                                [| string n; "1x28x28"; mean |]
                                $"split {split}: images, shape, mean"

                        for k in 0..9 do
                            Expect.equal
                                (classRow r.Stdout k)
                                [| fashionClasses[k]; "3"; "2"; "1"; "1" |]
                                $"label {k}: class, training files, train, held-out, test"

                testCase "writes figures with a decimal point under a German locale too, as report.md does"
                <| fun () ->
                    use tmp = new TempFolder()
                    writeIdx tmp.Path false 30 10
                    let german = [ "LANG", "de_DE.UTF-8"; "LC_ALL", "de_DE.UTF-8" ]

                    let r =
                        runSnnWith german (Path.GetTempPath()) [ "data"; "--data"; tmp.Path; "--held-out"; "10" ]

                    Expect.equal r.ExitCode ExitCode.Success r.Show
                    // 90 / 255 = 0.35294...; German formatting would write 0,3529.
                    Expect.equal (splitRow r.Stdout "test") [| "10"; "1x28x28"; "0.3529" |] "the pixel mean"
                    Expect.isMatch r.Stdout @"read in\s+\d+\.\d\d s" "the load time"

                testCase "draws a table written to a file as wide as it needs, or as COLUMNS asks"
                <| fun () ->
                    use tmp = new TempFolder()
                    writeIdx tmp.Path false 30 10
                    let data = [ "data"; "--data"; tmp.Path; "--held-out"; "10" ]
                    // At Spectre.Console's 80 columns for a pipe this head wrapped after "(per".
                    let head = "pixel mean (per channel)"
                    let wide = runSnnWith [ "COLUMNS", "" ] (Path.GetTempPath()) data
                    Expect.equal wide.ExitCode ExitCode.Success wide.Show
                    Expect.stringContains wide.Stdout head "one line per column head in a file"
                    let narrow = runSnnWith [ "COLUMNS", "80" ] (Path.GetTempPath()) data
                    Expect.equal narrow.ExitCode ExitCode.Success narrow.Show
                    Expect.isFalse (narrow.Stdout.Contains head) "COLUMNS = 80 wraps it"

                    Expect.equal
                        (splitRow narrow.Stdout "test")
                        [| "10"; "1x28x28"; "0.3529" |]
                        "the row reads the same"

                testCase "names the digits as the classes of --dataset mnist"
                <| fun () ->
                    use tmp = new TempFolder()
                    writeIdx tmp.Path true 20 10

                    let r =
                        runSnn [ "data"; "--dataset"; "mnist"; "--data"; tmp.Path; "--held-out"; "0" ]

                    Expect.equal r.ExitCode ExitCode.Success r.Show

                    for k in 0..9 do
                        Expect.equal (classRow r.Stdout k) [| string k; "2"; "2"; "0"; "1" |] $"label {k}"

                testCase "a truncated IDX file exits 3 naming the file"
                <| fun () ->
                    use tmp = new TempFolder()
                    writeIdx tmp.Path false 30 10
                    let labels = tmp.File "t10k-labels-idx1-ubyte"
                    File.WriteAllBytes(labels, (File.ReadAllBytes labels)[..11])
                    let r = runSnn [ "data"; "--data"; tmp.Path; "--held-out"; "10" ]
                    expectFailure ExitCode.Data r
                    Expect.stringContains r.LastErrorLine labels "names the file"

                testCase "a folder without the IDX files exits 3 naming the folder and the files expected"
                <| fun () ->
                    use tmp = new TempFolder()
                    let r = runSnn [ "data"; "--data"; tmp.Path ]
                    expectFailure ExitCode.Data r
                    Expect.stringContains r.LastErrorLine tmp.Path "names the folder"
                    Expect.stringContains r.LastErrorLine "train-images-idx3-ubyte" "names what was expected"

                testCase "--held-out of all the training images exits 2 naming --held-out"
                <| fun () ->
                    use tmp = new TempFolder()
                    writeIdx tmp.Path false 30 10
                    let r = runSnn [ "data"; "--data"; tmp.Path; "--held-out"; "30" ]
                    expectFailure ExitCode.Usage r
                    Expect.stringStarts r.LastErrorLine "snn: --held-out = 30 is out of range" "names the option" ]

          testList
              "snn run"
              [ testCase "--out naming an existing file exits 4 naming it"
                <| fun () ->
                    use tmp = new TempFolder()
                    let data = Path.Combine(tmp.Path, "data")
                    Directory.CreateDirectory data |> ignore
                    writeIdx data false 5100 100
                    let out = tmp.File "not-a-folder"
                    File.WriteAllText(out, "a file")

                    let r =
                        runSnn [ "run"; "--profile"; "tiny"; "--data"; data; "--out"; out; "--plain" ]

                    expectFailure ExitCode.InputOutput r
                    Expect.stringContains r.LastErrorLine out "names the path"
                    Expect.equal (File.ReadAllText out) "a file" "the file is left alone" ]

          testList
              "stack traces"
              [ testCase "--verbose (anywhere on the line) adds the stack trace before the same snn: message"
                <| fun () ->
                    let plain = runSnn [ "data"; "--dataset"; "imagenet21k" ]

                    for args in
                        [ [ "--verbose"; "data"; "--dataset"; "imagenet21k" ]
                          [ "data"; "--dataset"; "imagenet21k"; "--verbose" ] ] do
                        let r = runSnn args
                        Expect.equal r.ExitCode plain.ExitCode "same code"
                        Expect.isTrue (hasStackTrace r.Stderr) $"stack trace\n{r.Show}"
                        Expect.equal r.LastErrorLine plain.LastErrorLine "same message, last"

                testCase "SNN_DEBUG=1 asks for the stack trace as --verbose does"
                <| fun () ->
                    let r =
                        runSnnWith [ "SNN_DEBUG", "1" ] (Path.GetTempPath()) [ "data"; "--dataset"; "imagenet21k" ]

                    Expect.equal r.ExitCode ExitCode.Usage "same code"
                    Expect.isTrue (hasStackTrace r.Stderr) $"stack trace\n{r.Show}"
                    Expect.stringStarts r.LastErrorLine "snn: --dataset = imagenet21k" "same message, last" ] ]
