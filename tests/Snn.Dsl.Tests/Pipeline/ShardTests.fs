module Snn.Dsl.Tests.Pipeline.ShardTests

open Expecto
open FsCheck
open FsCheck.FSharp
open Snn.Dsl.Pipeline

[<Tests>]
let tests =
    testList
        "Shard"
        [ test "i/n parses for 1 <= i <= n, and anything else is refused with the text and the form" {
              Expect.equal (Shard.parse "2/3") (Ok { Index = 2; Count = 3 }) "2/3"
              Expect.equal (string { Index = 2; Count = 3 }) "2/3" "printed back"

              for bad in [ "0/2"; "3/2"; "1/0"; "a/b"; "1"; "1/2/3"; "-1/2" ] do
                  match Shard.parse bad with
                  | Ok s -> failtestf "%s parsed as %O" bad s
                  | Error m -> Expect.stringContains m bad "names the text"
          }

          testProperty "the shards cover the images once, in order, each starting on a batch boundary"
          <| Prop.forAll
              (Gen.zip3 (Gen.choose (0, 5000)) (Gen.choose (1, 300)) (Gen.choose (1, 12))
               |> Arb.fromGen)
              (fun (images, batch, n) ->
                  let slices = [ for i in 1..n -> Shard.images { Index = i; Count = n } images batch ]

                  let contiguous =
                      slices
                      |> List.fold
                          (fun (ok, next) (start, count) -> ok && start = next && count >= 0, start + count)
                          (true, 0)

                  fst contiguous
                  && snd contiguous = images
                  && slices |> List.forall (fun (start, _) -> start % batch = 0 || start = images))

          test "without a shard the slice is everything" { Expect.equal (Shard.slice None 777 256) (0, 777) "all" }

          test "with eval_batch_size 32, shard 2 of 2 evaluates the second 32 of 64 SNN test images, in one batch" {
              let data: Snn.Dsl.Data =
                  { Dataset = Snn.Core.Data.DatasetDescriptor.FashionMnist
                    Path = None
                    TrainImages = Some 512
                    TestImages = Some 64
                    HeldOut = Some 1000
                    EvalBatchSize = Some 32 }

              use whole = new RunData(data, None)

              use second =
                  new RunData(data, None, TorchSharp.torch.CPU, Some { Index = 2; Count = 2 })

              Expect.equal second.EvalBatch 32 "the setting"
              Expect.equal second.SnnTestBatches.Count 1 "one batch"
              let shard = second.SnnTestBatches |> Seq.exactlyOne |> fst
              let all = TorchSharp.torch.cat ([| for x, _ in whole.SnnTestBatches -> x |], 0L)
              Expect.equal whole.SnnTestBatches.Count 2 "the whole run: two batches of 32"
              Expect.isTrue (shard.allclose (all.narrow (0L, 32L, 32L), 0.0, 0.0, false)) "the second 32 images"
          }

          test "a shard's test batches are its slice; its head batches are the whole split's first images" {
              let data: Snn.Dsl.Data =
                  { Dataset = Snn.Core.Data.DatasetDescriptor.FashionMnist
                    Path = None
                    TrainImages = Some 512
                    TestImages = Some 512
                    HeldOut = Some 1000
                    EvalBatchSize = None }

              use whole = new RunData(data, None)

              use second =
                  new RunData(data, None, TorchSharp.torch.CPU, Some { Index = 2; Count = 2 })

              let images (batches: seq<TorchSharp.torch.Tensor * TorchSharp.torch.Tensor>) =
                  TorchSharp.torch.cat ([| for x, _ in batches -> x |], 0L)

              let start, count = Shard.images { Index = 2; Count = 2 } data.TestImages.Value 256
              Expect.equal (start, count) (256, 256) "the second of two batches"
              Expect.equal second.SnnTest.Count count "the SNN test images of shard 2"

              let same (a: TorchSharp.torch.Tensor) (b: TorchSharp.torch.Tensor) =
                  a.shape = b.shape && a.allclose (b, 0.0, 0.0, false)

              Expect.isTrue
                  (same (images second.SnnTestBatches) ((images whole.SnnTestBatches).narrow (0L, 256L, 256L)))
                  "shard 2 evaluates the whole run's second batch"

              let head = images (second.TestHeadBatches 300)
              Expect.isGreaterThanOrEqual head.shape[0] 300L "at least the images asked for"

              Expect.isTrue
                  (same (head.narrow (0L, 0L, 300L)) ((images whole.TestBatches).narrow (0L, 0L, 300L)))
                  "the whole split's first images, not the shard's"
          } ]
