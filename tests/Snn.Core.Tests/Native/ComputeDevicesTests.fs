module Snn.Core.Tests.Native.ComputeDevicesTests

open System
open Expecto
open TorchSharp
open Snn.Core.Native
open Snn.Core.Tests

[<Tests>]
let tests =
    testList
        "ComputeDevices"
        [ testCase "cpu, cuda and cuda:N parse, in any case"
          <| fun () ->
              Expect.equal (ComputeDevices.Parse "cpu").``type`` DeviceType.CPU "cpu"
              let cuda = ComputeDevices.Parse "CUDA"
              Expect.equal (cuda.``type``, cuda.index) (DeviceType.CUDA, 0) "cuda is the first GPU"
              let third = ComputeDevices.Parse " cuda:2 "
              Expect.equal (third.``type``, third.index) (DeviceType.CUDA, 2) "cuda:2"

          testCase "other names are refused, naming the text and the accepted forms"
          <| fun () ->
              for bad in [ "gpu"; "cuda:"; "cuda:-1"; "cuda:x"; ""; "mps" ] do
                  ArgumentChecks.argumentError "device" [ $"\"{bad}\""; "cpu, cuda or cuda:N" ] (fun () ->
                      ComputeDevices.Parse bad |> ignore)

          testCase "the CPU is always available"
          <| fun () -> Expect.equal (ComputeDevices.Resolve "cpu").``type`` DeviceType.CPU "cpu"

          testCase "asking for CUDA without the CUDA backend fails at once, naming the package a GPU needs"
          <| fun () ->
              // No CUDA build of libtorch is served to this machine, so this is the case here; on a machine with
              // TorchSharp-cuda-linux and a GPU the same call succeeds.
              if ComputeDevices.HasCudaBackend then
                  Expect.equal (ComputeDevices.Resolve "cuda").``type`` DeviceType.CUDA "a GPU"
              else
                  ArgumentChecks.argumentError
                      "device"
                      [ "cuda:0"; ComputeDevices.CudaPackageLinux; "TorchSharp-cpu"; "cpu" ]
                      (fun () -> ComputeDevices.Resolve "cuda" |> ignore)

                  ArgumentChecks.argumentError "device" [ "cuda:1"; ComputeDevices.CudaPackageLinux ] (fun () ->
                      ComputeDevices.EnsureAvailable(torch.Device(DeviceType.CUDA, 1)))

          testCase "devices other than the CPU and CUDA are refused"
          <| fun () ->
              ArgumentChecks.argumentError "device" [ "meta"; "cpu or cuda" ] (fun () ->
                  ComputeDevices.EnsureAvailable(torch.Device DeviceType.META)) ]
