namespace Snn.Core.Data;

/// <summary>
/// The <see cref="IDatasetReader"/> of an image folder in the ImageNet layout: root/train/&lt;class&gt;/... and
/// root/val/&lt;class&gt;/... (or root/test/...), read at the descriptor's image size S. Both splits must have the
/// same class folders. Splits that do not fit the memory budget are streamed (<see cref="Stream"/>).
/// </summary>
public sealed class ImageFolderReader : IStreamingDatasetReader
{
    /// <summary>The training split's folder name.</summary>
    public const string TrainFolder = "train";

    /// <inheritdoc/>
    public bool Holds(string folder) => Directory.Exists(Path.Combine(folder, TrainFolder));

    /// <summary>The test split's folder: root/val when it exists, else root/test.</summary>
    /// <param name="folder">The dataset root.</param>
    public static string TestFolder(string folder) =>
        Path.Combine(folder, Directory.Exists(Path.Combine(folder, "val")) ? "val" : "test");

    /// <summary>Indexes both splits and checks that they have the same class names.</summary>
    /// <param name="folder">The dataset root.</param>
    /// <exception cref="DataFileException">A layout error, or class names that differ between the splits.</exception>
    public static (ImageFolderIndex Train, ImageFolderIndex Test) Index(string folder)
    {
        var train = ImageFolderIndex.Build(Path.Combine(folder, TrainFolder));
        var test = ImageFolderIndex.Build(TestFolder(folder));
        train.RequireSameClasses(test);
        return (train, test);
    }

    /// <inheritdoc/>
    public DatasetLayout Inspect(DatasetDescriptor dataset, string folder)
    {
        var size = Size(dataset);
        var (train, test) = Index(folder);
        return new DatasetLayout(folder, train.Count, test.Count, 3, size, size, train.ClassNames);
    }

    /// <inheritdoc/>
    public ImageDataset Read(DatasetDescriptor dataset, string folder, bool train)
    {
        var size = Size(dataset);
        var (trainIndex, testIndex) = Index(folder);
        return ImageFolder.Read(train ? trainIndex : testIndex, size);
    }

    /// <inheritdoc/>
    public ImageDataset Stream(DatasetDescriptor dataset, string folder, bool train, DataMemoryBudget budget)
    {
        var size = Size(dataset);
        var (trainIndex, testIndex) = Index(folder);
        return ImageDataset.Stream(train ? trainIndex : testIndex, size, budget);
    }

    /// <summary>
    /// The identity of an image folder from its listing: per split, SHA-256 over the sorted lines
    /// (relative path, size, last-write time); images are not read (hashing every JPEG of ImageNet would take
    /// minutes). A file rewritten with the same size and time is not noticed.
    /// </summary>
    /// <param name="dataset">The descriptor.</param>
    /// <param name="folder">The dataset root.</param>
    public DatasetIdentity Identify(DatasetDescriptor dataset, string folder)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        var (train, test) = Index(folder);
        return DatasetIdentity.OfListing(dataset.Key, folder, [train.Folder, test.Folder]);
    }

    private static int Size(DatasetDescriptor dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        return dataset.ImageSize
            ?? throw new ArgumentException($"{nameof(dataset)} {dataset.Name} has no image size: an image folder needs one", nameof(dataset));
    }
}
