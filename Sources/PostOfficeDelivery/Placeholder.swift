// PostOfficeDelivery: the local delivery agent — recipient resolution, trace headers, Maildir writes.
import PostOfficeCore
