module Snn.Core.Tests.Data.IdxReaderTests

open Expecto
open Snn.Core.Data
open Snn.Core.Tests.Data.DataFixtures

[<Tests>]
let tests =
    testList
        "IdxReader"
        [ testCase "test images of another size than the training images are refused from the headers"
          <| fun () ->
              use tmp = new TempFolder()
              writeIdxFolder tmp.Path false 5 5 2 2

              let p =
                  write tmp.Path "t10k-images-idx3-ubyte" false (idxImages Idx.ImagesMagic 5 3 2 (Array.zeroCreate 30))

              dataError (fun () -> DatasetDescriptor.Mnist.Inspect tmp.Path) p [ "holds images of 3x2"; "expected 2x2" ]

          testCase "Read names the split after the descriptor and uses its class names"
          <| fun () ->
              use tmp = new TempFolder()
              writeIdxFolder tmp.Path false 5 3 2 2

              use test =
                  DatasetDescriptor.Mnist.Reader.Read(DatasetDescriptor.Mnist, tmp.Path, false)

              Expect.equal (test.Name, test.ClassNames.[3], test.Count) ("mnist/test", "3", 3) "name, classes, count"

          testCase "Holds needs all four files, raw or gzipped"
          <| fun () ->
              use tmp = new TempFolder()
              writeIdxFolder tmp.Path true 1 1 1 1
              let reader = IdxReader()
              Expect.isTrue (reader.Holds tmp.Path) "all four"
              System.IO.File.Delete(tmp.File "t10k-labels-idx1-ubyte.gz")
              Expect.isFalse (reader.Holds tmp.Path) "one missing" ]
