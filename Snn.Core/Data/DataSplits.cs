namespace Snn.Core.Data;

/// <summary>
/// The three splits of an experiment (BENCHMARKS.md): Train = the first N_train - h training images,
/// HeldOut = the last h training images (calibration and early stopping only), Test = the test images.
/// Train and HeldOut are views of <see cref="FullTrain"/> (no copy). Dispose to free all tensors.
/// </summary>
public sealed class DataSplits : IDisposable
{
    private DataSplits(DatasetDescriptor dataset, string folder, ImageDataset fullTrain, ImageDataset test, int heldOut, bool heldOutIsDefault)
    {
        Dataset = dataset;
        Folder = folder;
        FullTrain = fullTrain;
        Test = test;
        HeldOutIsDefault = heldOutIsDefault;
        Train = fullTrain.Subset(0, fullTrain.Count - heldOut, fullTrain.Name + "[train]");
        HeldOut = fullTrain.Subset(fullTrain.Count - heldOut, heldOut, fullTrain.Name + "[held-out]");
    }

    /// <summary>The dataset.</summary>
    public DatasetDescriptor Dataset { get; }

    /// <summary>Legacy name of <see cref="Dataset"/> (callers written for <see cref="DatasetKind"/>); prints the dataset's name.</summary>
    public DatasetDescriptor Kind => Dataset;

    /// <summary>The folder the data was read from.</summary>
    public string Folder { get; }

    /// <summary>All images of the training files (N_train, e.g. 60,000 for Fashion-MNIST).</summary>
    public ImageDataset FullTrain { get; }

    /// <summary>The first N_train - h training images.</summary>
    public ImageDataset Train { get; }

    /// <summary>The last h training images.</summary>
    public ImageDataset HeldOut { get; }

    /// <summary>The test images.</summary>
    public ImageDataset Test { get; }

    /// <summary>Whether the held-out count h is <see cref="DefaultHeldOut"/> (the caller passed none), for the run log.</summary>
    public bool HeldOutIsDefault { get; }

    /// <summary>Whether the images are streamed from disk (the dataset did not fit the memory budget).</summary>
    public bool IsStreamed => FullTrain.IsStreamed;

    /// <summary>Bytes the four streamed splits hold besides batches (file indexes and labels); 0 in memory.</summary>
    public long StreamingResidentBytes =>
        FullTrain.StreamingResidentBytes + Train.StreamingResidentBytes + HeldOut.StreamingResidentBytes + Test.StreamingResidentBytes;

    /// <summary>Channels C of every image: the network's input channels must equal it.</summary>
    public int Channels => FullTrain.Channels;

    /// <summary>The image shape [C, H, W] of every split.</summary>
    public int[] ImageShape => [FullTrain.Channels, FullTrain.Height, FullTrain.Width];

    /// <summary>The class count K: the network's output width must equal it.</summary>
    public int Classes => FullTrain.Classes;

    /// <summary>
    /// The default held-out count for N_train training images: h = min(5000, floor(N_train / 12)), i.e. the
    /// benchmark's 5,000 for 60,000 images and one twelfth of smaller sets (666 of 7,996).
    /// </summary>
    /// <param name="trainingImages">N_train &gt;= 0.</param>
    public static int DefaultHeldOut(int trainingImages)
    {
        Guard.AtLeast(trainingImages, 0, nameof(trainingImages), "number of training images");
        return Math.Min(5000, trainingImages / 12);
    }

    /// <summary>
    /// Locates (see <see cref="DatasetLocator"/>), inspects, reads and splits a dataset. The layout is read from
    /// headers first: the held-out count is checked and the memory estimate compared with the budget before any
    /// image is read. A dataset above the budget is streamed when its reader can stream
    /// (<see cref="IStreamingDatasetReader"/>, image folders), else refused.
    /// </summary>
    /// <param name="dataset">The dataset (<see cref="DatasetDescriptor.Find"/>).</param>
    /// <param name="path">An explicit folder (--data), or null to use SNN_DATA / the descriptor's system folders.</param>
    /// <param name="heldOut">Held-out count h in [0, N_train - 1], or null for <see cref="DefaultHeldOut"/>.</param>
    /// <param name="budget">The memory the dataset may take, or null for <see cref="DataMemoryBudget.FromEnvironment()"/>.</param>
    /// <exception cref="DataFileException">Data not found, malformed, or larger than the budget; the message names the file.</exception>
    /// <exception cref="ArgumentException">The held-out count is out of range.</exception>
    public static DataSplits Load(DatasetDescriptor dataset, string? path, int? heldOut = null, DataMemoryBudget? budget = null)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        var folder = DatasetLocator.Locate(path, dataset);
        var layout = dataset.Inspect(folder);
        var h = heldOut ?? DefaultHeldOut(layout.TrainImages);
        CheckHeldOut(h, layout.TrainImages);
        budget ??= DataMemoryBudget.FromEnvironment();
        var streaming = layout.InMemoryBytes > budget.Bytes ? dataset.Reader as IStreamingDatasetReader : null;
        if (streaming is null)
        {
            budget.Check(dataset, layout);
        }

        ImageDataset Read(bool train) =>
            streaming is null ? dataset.Reader.Read(dataset, folder, train) : streaming.Stream(dataset, folder, train, budget);

        var train = Read(train: true);
        try
        {
            var splits = FromDatasets(dataset, folder, train, Read(train: false), heldOut);
            if (streaming is not null && splits.StreamingResidentBytes > budget.Bytes)
            {
                splits.Dispose();
                throw new DataFileException(
                    folder,
                    $"{dataset.Name} cannot be streamed within the data memory budget of {DataMemoryBudget.Format(budget.Bytes)} ({budget.Source}): its file " +
                    $"indexes and labels alone take {DataMemoryBudget.Format(splits.StreamingResidentBytes)}; " +
                    $"raise the budget with the environment variable {DataMemoryBudget.EnvironmentVariable}");
            }

            return splits;
        }
        catch
        {
            train.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Legacy form of <see cref="Load(DatasetDescriptor, string?, int?, DataMemoryBudget?)"/> for callers written for
    /// <see cref="DatasetKind"/>: the kind's descriptor, at <paramref name="imageSize"/> for an image folder.
    /// </summary>
    /// <param name="kind">The dataset kind.</param>
    /// <param name="path">An explicit folder, or null.</param>
    /// <param name="heldOut">Held-out count h in [0, N_train - 1], or null for <see cref="DefaultHeldOut"/>.</param>
    /// <param name="imageSize">Side S of image-folder images in pixels, [1, 4096]; must stay 224 for the other kinds.</param>
    public static DataSplits Load(DatasetKind kind, string? path, int? heldOut = null, int imageSize = 224)
    {
        var dataset = kind.Descriptor();
        return Load(dataset.ImageSize is null && imageSize == 224 ? dataset : dataset.WithImageSize(imageSize), path, heldOut);
    }

    /// <summary>Splits already-read datasets; ownership of both passes to the result.</summary>
    /// <param name="dataset">The dataset.</param>
    /// <param name="folder">Where the data came from (for reports).</param>
    /// <param name="fullTrain">All training images, N_train &gt;= 1.</param>
    /// <param name="test">The test images, with the same C, H, W and class names as <paramref name="fullTrain"/>.</param>
    /// <param name="heldOut">Held-out count h in [0, N_train - 1], or null for <see cref="DefaultHeldOut"/>.</param>
    public static DataSplits FromDatasets(DatasetDescriptor dataset, string folder, ImageDataset fullTrain, ImageDataset test, int? heldOut = null)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(fullTrain);
        ArgumentNullException.ThrowIfNull(test);
        var h = heldOut ?? DefaultHeldOut(fullTrain.Count);
        CheckHeldOut(h, fullTrain.Count);
        if (!fullTrain.ImageShape.SequenceEqual(test.ImageShape) || !fullTrain.ClassNames.SequenceEqual(test.ClassNames))
        {
            throw new ArgumentException(
                $"{nameof(test)} has images [{string.Join(", ", test.ImageShape)}] and {test.Classes} classes: " +
                $"expected [{string.Join(", ", fullTrain.ImageShape)}] and the {fullTrain.Classes} classes of the training set",
                nameof(test));
        }

        return new DataSplits(dataset, folder, fullTrain, test, h, heldOut is null);
    }

    /// <summary>Frees every tensor of the four datasets.</summary>
    public void Dispose()
    {
        Train.Dispose();
        HeldOut.Dispose();
        FullTrain.Dispose();
        Test.Dispose();
    }

    private static void CheckHeldOut(int heldOut, int trainingImages)
    {
        if (heldOut < 0 || heldOut >= trainingImages)
        {
            throw new ArgumentException(
                $"{nameof(heldOut)} = {heldOut} is out of range: expected [0, {trainingImages - 1}] (fewer than the {trainingImages} training images)",
                nameof(heldOut));
        }
    }
}
