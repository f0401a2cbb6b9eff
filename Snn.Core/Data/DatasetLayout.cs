using System.Globalization;
namespace Snn.Core.Data;

/// <summary>
/// What a dataset folder holds, known from headers, file sizes or a listing before any image is read: image
/// counts of the training and test files, the image shape C x H x W and the class names. A pipeline checks a
/// network's input channels and class count against it before training.
/// </summary>
/// <param name="Folder">The dataset folder.</param>
/// <param name="TrainImages">Images in the training files, N_train &gt;= 0.</param>
/// <param name="TestImages">Images in the test files, N_test &gt;= 0.</param>
/// <param name="Channels">Channels C (1 greyscale, 3 RGB).</param>
/// <param name="Height">Image height H in pixels.</param>
/// <param name="Width">Image width W in pixels.</param>
/// <param name="ClassNames">The class names, indexed by label; K = ClassNames.Count &gt;= 1.</param>
public sealed record DatasetLayout(
    string Folder, int TrainImages, int TestImages, int Channels, int Height, int Width, IReadOnlyList<string> ClassNames)
{
    /// <summary>Bytes per label held in memory (int64).</summary>
    public const int LabelBytes = sizeof(long);

    /// <summary>The number of classes K.</summary>
    public int Classes => ClassNames.Count;

    /// <summary>The image shape [C, H, W].</summary>
    public int[] ImageShape => [Channels, Height, Width];

    /// <summary>Bytes of one image as uint8: C x H x W.</summary>
    public long ImageBytes => (long)Channels * Height * Width;

    /// <summary>
    /// Estimated peak bytes of reading both parts into memory:
    /// (N_train + N_test) x (C H W + 8 + 1), i.e. uint8 pixels and int64 labels held, plus the label bytes
    /// read before they are widened to int64. Buffers of fixed size (a file chunk, one decoded image per core)
    /// are not counted.
    /// </summary>
    public long InMemoryBytes => ((long)TrainImages + TestImages) * (ImageBytes + LabelBytes + 1);

    /// <summary>"N_train + N_test images of CxHxW, K classes", for messages.</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{TrainImages:N0} training + {TestImages:N0} test images of {Channels}x{Height}x{Width}, {Classes} classes");
}
